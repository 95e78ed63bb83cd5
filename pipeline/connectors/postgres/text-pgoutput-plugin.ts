// pgoutput through pg-logical-replication, with every column value kept in its text form.
// The library parses values with node-postgres' global type parsers (int8 and numeric become
// strings but timestamps become Dates, losing microseconds); trueup maps text, exactly as the
// snapshot reads it. A Relation message is parsed before any row that uses it, so replacing
// the column parsers here takes effect for every following row.
import { type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';

const asText = (raw: unknown) => raw;

export class TextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    if (msg?.tag === 'relation') for (const c of msg.columns) c.parser = asText;
    return msg;
  }
}
