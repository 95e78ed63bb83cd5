// `trueup sandbox <kind>`: the registry of sandboxes and the command's usage errors.
import { describe, expect, it, vi } from 'vitest';
import { createCliContext } from '../../../pipeline/cli/cli-context.js';
import { runCli } from '../../../pipeline/cli/main.js';
import { findConnector } from '../../../pipeline/connectors/registry.js';

describe('trueup sandbox', () => {
  it('starts the salesforce sandbox from the registry, serving its token', async () => {
    const running = await findConnector('salesforce')!.sandbox!({
      port: 0,
      host: '127.0.0.1',
      seed: 3,
      records: 40,
      token: 'tok',
    });
    try {
      expect(running.summary).toMatch(/Account 40/);
      const res = await fetch(`${running.url}/services/data/v60.0/jobs/query`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
        body: JSON.stringify({ operation: 'query', query: 'SELECT Id FROM Account' }),
      });
      expect(res.status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it('rejects an unknown kind and bad numbers with exit code 2', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const ctx = createCliContext({}, () => {});
    try {
      expect(await runCli(['sandbox', 'oracle'], ctx)).toBe(2);
      expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(
        /unknown sandbox "oracle"; choose one of: salesforce/,
      );
      expect(await runCli(['sandbox', 'salesforce', '--fault-rate', '2'], ctx)).toBe(2);
      expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(/--fault-rate must be between 0 and 1/);
    } finally {
      stderr.mockRestore();
    }
  });
});
