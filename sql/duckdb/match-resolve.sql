-- Resolves the links of {{o}}m (every link at the level that claimed it) into one-to-one pairs,
-- duplicate matches and lone records (reconcilers/match/resolve-matches.ts). Only live partners
-- count: a live record with several at its level is a duplicate_match; a deleted record never is
-- (one linked to two live records is two deleted_in_one pairs; links between two tombstones are
-- pairs deleted on both sides, not reported). A record is claimed at exactly one level, so counting
-- over all of {{o}}m counts its level. {{stands}} drops the tombstone links that do not stand.
CREATE OR REPLACE TEMP TABLE {{o}}multi AS
  SELECT 'crm' AS side, crm_id AS id FROM {{o}}m WHERE NOT cdel AND NOT edel GROUP BY crm_id HAVING count(*) > 1
  UNION ALL SELECT 'erp', erp_id FROM {{o}}m WHERE NOT cdel AND NOT edel GROUP BY erp_id HAVING count(*) > 1;
CREATE OR REPLACE TEMP TABLE {{o}}pairs AS SELECT * FROM {{o}}m x
 WHERE crm_id NOT IN (SELECT id FROM {{o}}multi WHERE side = 'crm')
   AND erp_id NOT IN (SELECT id FROM {{o}}multi WHERE side = 'erp') {{stands}};
CREATE OR REPLACE TEMP TABLE {{o}}dups AS
  SELECT 'crm' AS side, crm_id AS id, list(erp_id ORDER BY erp_id) AS partners FROM {{o}}m x
   WHERE crm_id IN (SELECT id FROM {{o}}multi WHERE side = 'crm') {{stands}} GROUP BY crm_id
  UNION ALL
  SELECT 'erp', erp_id, list(crm_id ORDER BY crm_id) FROM {{o}}m x
   WHERE erp_id IN (SELECT id FROM {{o}}multi WHERE side = 'erp') {{stands}} GROUP BY erp_id;
-- Live records no link claimed.
CREATE OR REPLACE TEMP TABLE {{o}}lone AS
  SELECT 'crm' AS side, source_id FROM {{crm}} WHERE NOT deleted AND source_id NOT IN (SELECT crm_id FROM {{o}}m)
  UNION ALL
  SELECT 'erp', source_id FROM {{erp}} WHERE NOT deleted AND source_id NOT IN (SELECT erp_id FROM {{o}}m);
