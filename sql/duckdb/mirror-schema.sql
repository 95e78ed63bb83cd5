-- The narrow columnar mirror of one tenant × entity (reconcilers/mirror.ts): per side, one row per
-- staged record (tombstones included) with its direct-key fields (l_*), normalised business keys
-- (k1…kn), tombstone flag, staged_seq and the content hash rh computed by Postgres.
-- `meta` remembers how far the mirror and the last reconcile got and which config they saw.
CREATE TABLE IF NOT EXISTS crm ({{columns}});
CREATE TABLE IF NOT EXISTS erp ({{columns}});
-- Older versions of records replaced by a delta, kept until a run has examined them: their old
-- keys lead an incremental run to the records they were linked to.
CREATE TABLE IF NOT EXISTS prev_crm AS SELECT *, CAST(NULL AS BIGINT) AS at_seq FROM crm LIMIT 0;
CREATE TABLE IF NOT EXISTS prev_erp AS SELECT *, CAST(NULL AS BIGINT) AS at_seq FROM erp LIMIT 0;
-- The tenant's xref links of this entity, copied from control.xref when they change.
CREATE TABLE IF NOT EXISTS xref (crm_id VARCHAR, erp_id VARCHAR);
-- ISO 4217 minor-unit factors of the currencies seen (money comparators).
CREATE TABLE IF NOT EXISTS minor_units (code VARCHAR PRIMARY KEY, factor DECIMAL(38,0));
