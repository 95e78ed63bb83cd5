-- Applies one side's delta (temp table d_{{side}}, rows staged after the mirror's last_seq): the
-- versions being replaced leave their tokens in prev_{{side}}, then the new versions take their
-- place. The old versions are found by source-id token (an integer probe of the side) and
-- confirmed by source id, so a token collision can never replace another record; the delete
-- then goes by rowid.
CREATE OR REPLACE TEMP TABLE hit_{{side}} AS
  SELECT m.rowid AS rid, m.source_id, {{tokens}} FROM {{side}} m WHERE m.t_sid IN (SELECT t_sid FROM d_{{side}});
DELETE FROM hit_{{side}} WHERE source_id NOT IN (SELECT source_id FROM d_{{side}});
INSERT INTO prev_{{side}} SELECT * EXCLUDE (rid), {{seq}} FROM hit_{{side}};
DELETE FROM {{side}} WHERE rowid IN (SELECT rid FROM hit_{{side}});
INSERT INTO {{side}} SELECT * FROM d_{{side}};
