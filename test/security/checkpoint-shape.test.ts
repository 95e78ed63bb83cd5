// Checkpoint values read back from staging are validated before they reach a vendor query: a
// Salesforce `since` that is not an ISO timestamp (or a window with a forged job id or locator)
// stops the stream with a terminal error naming it instead of reaching SOQL or a URL.
import { describe, expect, it } from 'vitest';
import {
  InvalidCheckpointError,
  validSalesforcePosition,
} from '../../pipeline/connectors/salesforce/checkpoint-shape.js';

const where = { tenant: 'acme', system: 'sf', stream: 'Account' };

describe('Salesforce checkpoint shape', () => {
  it('accepts the positions the extractor writes', () => {
    const ok = [
      { since: null },
      { since: '2026-01-02T03:04:05.000Z' },
      {
        since: '2026-01-02T03:04:05Z',
        window: {
          to: '2026-01-03T00:00:00.000Z',
          jobId: '750000000000000001',
          locator: null,
          skip: 0,
          rows: 10,
        },
      },
      {
        since: null,
        window: { to: '2026-01-03T00:00:00.000Z', jobId: '750000000000000001', locator: 'MTAw', skip: 5 },
      },
    ];
    for (const p of ok) expect(validSalesforcePosition(p, where)).toBe(p);
  });

  it('refuses a since or window that would carry text into SOQL or a URL', () => {
    const bad = [
      'not an object',
      { since: "2026-01-01T00:00:00Z OR Name != ''" },
      { since: '2026-13-45T99:99:99Z' },
      { since: 12 },
      { since: null, window: { to: 'x', jobId: '750000000000000001', locator: null, skip: 0 } },
      { since: null, window: { to: '2026-01-03T00:00:00Z', jobId: '../../limits', locator: null, skip: 0 } },
      {
        since: null,
        window: { to: '2026-01-03T00:00:00Z', jobId: '750000000000000001', locator: 'a&b=c', skip: 0 },
      },
      {
        since: null,
        window: { to: '2026-01-03T00:00:00Z', jobId: '750000000000000001', locator: null, skip: -1 },
      },
    ];
    for (const p of bad) {
      expect(() => validSalesforcePosition(p, where)).toThrow(InvalidCheckpointError);
    }
    expect(() => validSalesforcePosition({ since: 'x' }, where)).toThrow(
      /tenant acme, system sf, stream Account/,
    );
  });
});
