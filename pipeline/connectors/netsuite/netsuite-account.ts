// What the NetSuite extractor learns from the account once per run (WIRE.md "Values" and
// "References"): its clock and the integration user's time zone, and its currencies.
//
// SuiteQL renders and parses date/time text on the integration user's wall clock (its time zone
// preference), so a window start computed on trueup's UTC clock would, for a user five hours
// behind UTC, ask for records changed five hours in the future and skip those in between. The
// account's clock comes from `SELECT TO_CHAR(SYSDATE, …) FROM DUAL`: its difference to the local
// clock turns local instants (the run's watermark) into the account's wall-clock text, and,
// rounded to the quarter hour (time zones are whole quarter hours), the account's stamp text
// back into instants for versions. A currency reference is an internal id; `currency.symbol`
// holds its ISO code.
import { TrueupError } from '../../../staging/model/errors.js';
import type { ApiClient } from '../http/api-client.js';
import { type SuiteqlPage, suiteqlPage } from './suiteql-page.js';

export const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const QUARTER_HOUR = 15 * 60_000;

export interface AccountFacts {
  /** The account's wall clock minus the local clock (ms): local instant → account text. */
  clockOffsetMs: number;
  /** The user's time zone offset (wall − UTC) to the quarter hour: account text → instant. */
  zoneOffsetMs: number;
  /** Currency internal id → ISO code; empty when the account has no currency list. */
  currencies: ReadonlyMap<string, string>;
}

const known = new WeakMap<ApiClient, Promise<AccountFacts>>();

/** The account's facts, asked once per client (one run of one system). */
export function accountFacts(client: ApiClient, now: () => number = Date.now): Promise<AccountFacts> {
  let facts = known.get(client);
  if (!facts) {
    facts = readFacts(client, now);
    // A failed read is asked again by the next stream rather than failing every stream with it.
    facts.catch(() => known.delete(client));
    known.set(client, facts);
  }
  return facts;
}

function suiteql(client: ApiClient, q: string, offset = 0): Promise<SuiteqlPage> {
  return client.json('POST', 'services/rest/query/v1/suiteql', {
    query: { limit: 1000, offset },
    headers: { prefer: 'transient' },
    body: { q },
    schema: suiteqlPage,
    about: 'account facts',
  });
}

async function readFacts(client: ApiClient, now: () => number): Promise<AccountFacts> {
  const before = now();
  const clock = await suiteql(client, "SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') AS now FROM DUAL");
  const local = (before + now()) / 2;
  const text = clock.items[0]?.now;
  const wall =
    typeof text === 'string' && STAMP.test(text) ? Date.parse(`${text.replace(' ', 'T')}Z`) : Number.NaN;
  if (Number.isNaN(wall))
    throw new TrueupError(`netsuite: SYSDATE came back as ${JSON.stringify(text)}, not YYYY-MM-DD HH:MI:SS`);
  const clockOffsetMs = Math.floor(wall - local);
  const currencies = new Map<string, string>();
  try {
    for (let offset = 0; ; offset += 1000) {
      const page = await suiteql(client, 'SELECT id, symbol FROM currency', offset);
      for (const r of page.items)
        if (r.id != null && r.symbol != null && r.symbol !== '')
          currencies.set(String(r.id), String(r.symbol));
      if (!page.hasMore) break;
    }
  } catch (err) {
    // Without the Multiple Currencies feature there is no currency list: values pass as they are.
    if ((err as { kind?: string }).kind !== 'terminal') throw err;
  }
  return { clockOffsetMs, zoneOffsetMs: Math.round(clockOffsetMs / QUARTER_HOUR) * QUARTER_HOUR, currencies };
}

/** Epoch ms → stamp text 'YYYY-MM-DD HH:MI:SS' (whole seconds) of a clock `offsetMs` from UTC. */
export function stampText(ms: number, offsetMs = 0): string {
  return new Date(Math.floor((ms + offsetMs) / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** The account's stamp text → the instant (epoch ms); null if unreadable. */
export function stampInstant(text: unknown, facts: AccountFacts): number | null {
  if (typeof text !== 'string' || !STAMP.test(text)) return null;
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? null : ms - facts.zoneOffsetMs;
}

/** A stamp on trueup's UTC clock (the run's watermark) as the account's wall-clock text. */
export function onAccountClock(utcText: string, facts: AccountFacts): string {
  const ms = Date.parse(`${utcText.replace(' ', 'T')}Z`);
  if (!STAMP.test(utcText) || Number.isNaN(ms))
    throw new TrueupError(`checkpoint stamp ${JSON.stringify(utcText)} is not YYYY-MM-DD HH:MI:SS`);
  return stampText(ms, facts.clockOffsetMs);
}
