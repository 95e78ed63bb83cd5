-- Cold path: forget the mirror (first run, new format or layout, another Postgres major or DuckDB
-- version, --rebuild-mirror).
DROP TABLE IF EXISTS crm;
DROP TABLE IF EXISTS erp;
DROP TABLE IF EXISTS prev_crm;
DROP TABLE IF EXISTS prev_erp;
DROP TABLE IF EXISTS xref;
-- Older formats of the mirror.
DROP TABLE IF EXISTS rec;
DROP TABLE IF EXISTS mkeys;
DROP TABLE IF EXISTS plinks;
DROP TABLE IF EXISTS pxref;
