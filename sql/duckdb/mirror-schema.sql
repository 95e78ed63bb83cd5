-- The narrow columnar mirror of one tenant × entity (reconcilers/mirror/refresh-mirror.ts, mirror-layout.ts): per
-- side, one row per staged record (tombstones included) with its direct-key fields (l_*),
-- normalised business keys (k1…kn), tombstone flag, staged_seq, the content hash rh computed by
-- Postgres and the 64-bit tokens of its link columns (t_sid, t_l_*, t_k*).
-- `meta` remembers how far the mirror and the last reconcile got and which config they saw.
CREATE TABLE IF NOT EXISTS crm ({{columns}});
CREATE TABLE IF NOT EXISTS erp ({{columns}});
-- Tokens of older versions of records replaced by a delta, kept until a run has examined them:
-- their old keys lead an incremental run to the records they were linked to.
CREATE TABLE IF NOT EXISTS prev_crm ({{prev}});
CREATE TABLE IF NOT EXISTS prev_erp ({{prev}});
-- The tenant's xref links of this entity, copied from control.xref when they change, with tokens.
CREATE TABLE IF NOT EXISTS xref (crm_id VARCHAR, erp_id VARCHAR, t_crm UBIGINT, t_erp UBIGINT);
-- ISO 4217 minor-unit factors of the currencies seen (money comparators).
CREATE TABLE IF NOT EXISTS minor_units (code VARCHAR PRIMARY KEY, factor DECIMAL(38,0));
