-- Applies one side's delta (d_{{side}}, rows staged after the mirror's last_seq): the versions
-- being replaced leave their tokens in {{prev}} (tprev_* or prev_*), then the new versions take
-- their place. The old versions are found by source-id token (an integer probe of the side) and
-- confirmed by the second hash of the source id (mirror-layout.ts); the delete goes by rowid.
CREATE OR REPLACE TEMP TABLE hit_{{side}} AS
  SELECT m.rowid AS rid, m.t_sid2, {{tokens}} FROM {{side}} m WHERE m.t_sid IN (SELECT t_sid FROM d_{{side}});
DELETE FROM hit_{{side}}
 WHERE NOT EXISTS (SELECT 1 FROM d_{{side}} d WHERE d.t_sid = hit_{{side}}.t_sid AND d.t_sid2 = hit_{{side}}.t_sid2);
INSERT INTO {{prev}} SELECT {{tokens}}, {{seq}} FROM hit_{{side}};
DELETE FROM {{side}} WHERE rowid IN (SELECT rid FROM hit_{{side}});
INSERT INTO {{side}} SELECT * FROM d_{{side}};
