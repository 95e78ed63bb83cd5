// A Salesforce stream's checkpoint as read back from staging is data, not trusted code: its `since`
// and window bounds become SOQL datetime literals, its job id a URL path, its locator a query
// parameter. Checked here, where the checkpoint is loaded, before any of it reaches a vendor query.
import { TrueupError } from '../../../staging/model/errors.js';
import type { SalesforcePosition } from './extractor.js';

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
// Salesforce ids are 15 or 18 alphanumerics; Bulk API 2.0 locators are short opaque tokens.
const JOB_ID = /^[A-Za-z0-9]{15,18}$/;
const LOCATOR = /^[A-Za-z0-9+/=_.-]{1,256}$/;

export class InvalidCheckpointError extends TrueupError {
  override readonly name = 'InvalidCheckpointError';
}

const isTimestamp = (v: unknown): v is string =>
  typeof v === 'string' && ISO_TIMESTAMP.test(v) && Number.isFinite(Date.parse(v));
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The saved position, checked field by field; an InvalidCheckpointError (terminal) naming the stream if not. */
export function validSalesforcePosition(
  saved: unknown,
  where: { tenant: string; system: string; stream: string },
): SalesforcePosition {
  const bad = (what: string) =>
    new InvalidCheckpointError(
      `tenant ${where.tenant}, system ${where.system}, stream ${where.stream}: the saved checkpoint's ${what} is not valid; ` +
        `re-read the stream in full (trueup sync --tenant ${where.tenant} --system ${where.system} --full --once)`,
      { subject: { tenant: where.tenant, system: where.system } },
    );
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw bad('shape');
  const p = saved as Record<string, unknown>;
  if (p.since !== null && p.since !== undefined && !isTimestamp(p.since)) throw bad('since');
  const w = p.window;
  if (w !== undefined && w !== null) {
    if (typeof w !== 'object' || Array.isArray(w)) throw bad('window');
    const win = w as Record<string, unknown>;
    if (!isTimestamp(win.to)) throw bad('window end');
    if (typeof win.jobId !== 'string' || !JOB_ID.test(win.jobId)) throw bad('bulk job id');
    if (win.locator !== null && (typeof win.locator !== 'string' || !LOCATOR.test(win.locator)))
      throw bad('locator');
    if (!isCount(win.skip) || (win.rows !== undefined && !isCount(win.rows))) throw bad('row counts');
    if (win.unchecked !== undefined && typeof win.unchecked !== 'boolean') throw bad('unchecked flag');
  }
  return saved as SalesforcePosition;
}
