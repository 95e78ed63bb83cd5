-- The local columnar mirror of one tenant × entity: every staged row of the tenant's CRM and ERP
-- system (tombstones included), refreshed by staged_seq delta. `meta` remembers how far the
-- mirror and the last reconcile got and which config they were built under.
CREATE TABLE IF NOT EXISTS meta (k VARCHAR PRIMARY KEY, v VARCHAR);
CREATE TABLE IF NOT EXISTS rec ({{columns}});
-- Normalised business keys of live records, one row per (record, key level).
CREATE TABLE IF NOT EXISTS mkeys (side VARCHAR, source_id VARCHAR, lvl INTEGER, k VARCHAR);
-- Every candidate link the last reconcile saw (for incremental scope expansion).
CREATE TABLE IF NOT EXISTS plinks (crm_id VARCHAR, erp_id VARCHAR, lvl INTEGER);
-- The xref links the last reconcile used (changes seed the incremental scope).
CREATE TABLE IF NOT EXISTS pxref (crm_id VARCHAR, erp_id VARCHAR);
CREATE TABLE IF NOT EXISTS minor_units (code VARCHAR PRIMARY KEY, factor DECIMAL(38,0));
