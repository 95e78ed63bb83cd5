-- Applies one side's delta (temp table d_{{side}}, rows staged after the mirror's last_seq): the
-- versions being replaced move to prev_{{side}}, then the new versions take their place. One scan
-- by source id finds the old versions; the delete then goes by rowid.
CREATE OR REPLACE TEMP TABLE hit_{{side}} AS
  SELECT m.rowid AS rid, m.* FROM {{side}} m WHERE m.source_id IN (SELECT source_id FROM d_{{side}});
INSERT INTO prev_{{side}} SELECT * EXCLUDE (rid), {{seq}} FROM hit_{{side}};
DELETE FROM {{side}} WHERE rowid IN (SELECT rid FROM hit_{{side}});
INSERT INTO {{side}} SELECT * FROM d_{{side}};
