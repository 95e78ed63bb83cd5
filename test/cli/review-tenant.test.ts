// Review: an unknown --tenant is a usage error (exit 2) in every command, the dead-letter
// commands included (a typo must not read as "nothing to show" or "discarded 0").
import { expect, it } from 'vitest';
import { cliWorld } from './cli-world.js';

const world = cliWorld('review_tenant', ['acme']);
const { cli } = world;

it('dlq list, replay and discard refuse an unknown --tenant with exit 2', async () => {
  for (const args of [
    ['dlq', 'list', '--tenant', 'nope'],
    ['dlq', 'replay', '--tenant', 'nope'],
    ['dlq', 'discard', '--tenant', 'nope', '1'],
  ]) {
    const r = await cli(args);
    expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
    expect(r.err).toContain("unknown tenant 'nope' (configured: acme)");
  }
  expect((await cli(['dlq', 'list', '--tenant', 'acme'])).code).toBe(0);
  expect((await cli(['dlq', 'list'])).code).toBe(0);
});
