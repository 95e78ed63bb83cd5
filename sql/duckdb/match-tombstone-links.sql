-- Links from a tombstone to a live record that has a live partner do not stand
-- (reconcilers/match/resolve-matches.ts): when ERP deletes E1 and re-creates E2, both pointing at
-- C1, the live pair C1/E2 is compared and the tombstone E1 is not reported. Run only when there
-- are tombstone links (few, often none); the joins start from those few links (DuckDB builds its
-- hash table on the smaller side of an inner join), not from the millions of live ones.
CREATE OR REPLACE TEMP TABLE {{o}}m_drop AS
  SELECT DISTINCT t.crm_id, t.erp_id FROM (SELECT crm_id, erp_id FROM {{o}}m WHERE edel AND NOT cdel) t
    JOIN (SELECT crm_id FROM {{o}}m WHERE NOT cdel AND NOT edel) l ON l.crm_id = t.crm_id
  UNION ALL
  SELECT DISTINCT t.crm_id, t.erp_id FROM (SELECT crm_id, erp_id FROM {{o}}m WHERE cdel AND NOT edel) t
    JOIN (SELECT erp_id FROM {{o}}m WHERE NOT cdel AND NOT edel) l ON l.erp_id = t.erp_id;
