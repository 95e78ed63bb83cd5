-- Cold path: the whole mirror from COPY output files, read in parallel by DuckDB.
DROP TABLE IF EXISTS rec;
CREATE TABLE rec AS
  SELECT * FROM read_csv($files, header = false, auto_detect = false, allow_quoted_nulls = false,
                         quote = '"', escape = '"', columns = {{csvColumns}});
CREATE OR REPLACE TEMP TABLE delta AS SELECT * FROM rec LIMIT 0;
