import { describe, expect, it } from 'vitest';
import { registerSecret } from '../../pipeline/config/secrets.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { logSink } from '../support/fixtures.js';

describe('logger', () => {
  it('writes JSON with child bindings and errors under err', () => {
    const { lines, stream } = logSink();
    const log = createLogger({ level: 'debug', destination: stream });
    log.child({ tenant: 'acme', runId: 'r1' }).error({ err: new Error('boom') }, 'job failed');
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      level: 50,
      tenant: 'acme',
      runId: 'r1',
      msg: 'job failed',
      err: { message: 'boom', type: 'Error' },
    });
  });

  it('never writes a resolved secret, whatever field or message it hides in', () => {
    registerSecret('s3cr3t-value-XYZ');
    const { lines, stream } = logSink();
    const log = createLogger({ level: 'trace', destination: stream });
    log.info({ headers: { authorization: 'Bearer s3cr3t-value-XYZ' } }, 'request');
    log.info({ password: 'anything', nested: { deep: ['s3cr3t-value-XYZ'] } }, 'nested');
    log.warn('connecting to postgres://u:s3cr3t-value-XYZ@h/db and postgres://u:unregistered@h/db');
    log.error({ err: new Error('auth failed for token s3cr3t-value-XYZ') }, 'failure');
    log.info({ url: 'https://x/?token=s3cr3t-value-XYZ' }, 'url');
    const all = lines.join('\n');
    expect(all).not.toContain('s3cr3t-value-XYZ');
    expect(all).not.toContain('unregistered');
    expect(all).not.toContain('"anything"');
    expect(lines).toHaveLength(5);
  });
});
