-- Applies a delta file set (COPY output of staging rows) to the mirror: newer rows replace older.
CREATE OR REPLACE TEMP TABLE delta AS
  SELECT * FROM read_csv($files, header = false, auto_detect = false, allow_quoted_nulls = false,
                         quote = '"', escape = '"', columns = {{csvColumns}});
DELETE FROM rec USING delta WHERE rec.side = delta.side AND rec.source_id = delta.source_id;
INSERT INTO rec SELECT * FROM delta;
