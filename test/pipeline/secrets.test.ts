// Secret redaction in JSON log lines and printed text (pipeline/config/secrets.ts `redact`,
// applied to every log line by pipeline/log/logger.ts).
import { describe, expect, it } from 'vitest';
import { redact, registerSecret } from '../../pipeline/config/secrets.js';
import { refreshableToken } from '../../pipeline/connectors/http/refreshable-token.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { logSink } from '../support/fixtures.js';

describe('secret redaction', () => {
  it('redacts a registered secret holding a quote or backslash in JSON log lines', () => {
    const secret = 'Pa"ss\\w0rd-42';
    registerSecret(secret);
    const { lines, stream } = logSink();
    const log = createLogger({ level: 'info', destination: stream });
    log.error({ err: new Error(`login failed with ${secret}`) }, 'failure');
    log.info({ conn: `postgres://u:${secret}@h/db` }, 'connecting');
    expect(lines).toHaveLength(2);
    // What a reader of the log (or pino-pretty) sees once the JSON is decoded:
    const decoded = lines.map((l) => JSON.parse(l) as { err?: { message: string }; conn?: string });
    expect(JSON.stringify(decoded)).not.toContain('w0rd-42');
    expect(decoded[0]!.err!.message).toBe('login failed with ***');
    expect(decoded[1]!.conn).toBe('postgres://u:***@h/db');
  });

  it('redacts a URL password with an unencoded "@" up to the last "@" before the host', () => {
    expect(redact('connecting to postgres://app:hunter@2024x@db.internal:5432/trueup')).toBe(
      'connecting to postgres://app:***@db.internal:5432/trueup',
    );
    // In a JSON line the run stops at the end of the string: the next field is kept.
    expect(redact('{"url":"postgres://u:pw@host","email":"a@b.example"}')).toBe(
      '{"url":"postgres://u:***@host","email":"a@b.example"}',
    );
  });

  it('redacts a password given as a URL parameter or in a key=value connection string', () => {
    expect(redact('postgres://app@db.internal:5432/trueup?password=hunter2024&sslmode=require')).toBe(
      'postgres://app@db.internal:5432/trueup?password=***&sslmode=require',
    );
    expect(redact('postgres://app@db/trueup?sslmode=require&password=hunter2024')).toBe(
      'postgres://app@db/trueup?sslmode=require&password=***',
    );
    expect(redact("host=db password='a b\\' c' user=app")).toBe('host=db password=*** user=app');
    expect(redact('password=hunter2024 host=db')).toBe('password=*** host=db');
    expect(redact('host=db PASSWORD = hunter2024')).toBe('host=db PASSWORD = ***');
  });

  it('redacts a token obtained by a refresh during a run', async () => {
    const { token, refreshAuth } = refreshableToken('initial', async () => 'fresh-token-7f3a9c');
    await refreshAuth!();
    expect(token()).toBe('fresh-token-7f3a9c');
    expect(redact('Authorization: Bearer fresh-token-7f3a9c')).toBe('Authorization: Bearer ***');
  });
});
