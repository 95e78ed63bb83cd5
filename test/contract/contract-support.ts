// The contract tests' checker: JSON Schemas written from the vendors' documented shapes
// (test/contract/schemas/<vendor>/, each naming its source), applied to every exchange a sandbox
// recorded — what the connector sent and what the sandbox answered — route by route.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import type { SandboxExchange } from '../../pipeline/connectors/http/sandbox-server.js';

const SCHEMAS = join(dirname(fileURLToPath(import.meta.url)), 'schemas');

const ajv = new Ajv({ strict: false, allErrors: true });
// ajv-formats is CommonJS: its plugin is the default export's `default` under NodeNext.
(formats as unknown as { default: (a: Ajv) => void }).default(ajv);
// OpenAPI's integer formats are no JSON Schema formats: any integer passes them.
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);

const compiled = new Map<string, ValidateFunction>();

/** The validator of `vendor/name` (a file, or `vendor/file#definition`). */
export function schema(id: string): ValidateFunction {
  const known = compiled.get(id);
  if (known) return known;
  const [file, definition] = id.split('#');
  const json = JSON.parse(readFileSync(join(SCHEMAS, `${file}.json`), 'utf8')) as Record<string, unknown>;
  const v = ajv.compile(definition ? { ...json, $ref: `#/definitions/${definition}` } : json);
  compiled.set(id, v);
  return v;
}

/** Every schema file of a vendor (`vendor/name`), for coverage. */
export function schemaFiles(vendor: string): string[] {
  return readdirSync(join(SCHEMAS, vendor))
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${vendor}/${f.slice(0, -5)}`);
}

/** What a route's request and response must fit; undefined: not checked (CSV, empty bodies). */
export interface RouteContract {
  method: string;
  path: RegExp;
  request?: string | ((e: SandboxExchange) => string | undefined);
  /** By status: exact code, or 'error' for any other 4xx/5xx. */
  response?: Partial<Record<number | 'error', string>>;
}

export interface Violation {
  exchange: string;
  side: 'request' | 'response';
  schema: string;
  errors: string;
}

/** Checks each exchange against its route's schemas; returns the violations and the schemas used. */
export function checkExchanges(
  exchanges: readonly SandboxExchange[],
  routes: readonly RouteContract[],
): { violations: Violation[]; used: Set<string>; unmatched: string[] } {
  const violations: Violation[] = [];
  const used = new Set<string>();
  const unmatched: string[] = [];
  for (const e of exchanges) {
    const key = `${e.method} ${e.path} → ${e.status}`;
    const route = routes.find((r) => r.method === e.method && r.path.test(e.path));
    if (!route) {
      unmatched.push(key);
      continue;
    }
    const check = (side: Violation['side'], id: string | undefined, data: unknown) => {
      if (!id) return;
      used.add(id.split('#')[0]!);
      const v = schema(id);
      if (!v(data))
        violations.push({
          exchange: key,
          side,
          schema: id,
          errors: ajv.errorsText(v.errors, { separator: '; ' }),
        });
    };
    check('request', typeof route.request === 'function' ? route.request(e) : route.request, e.body);
    const byStatus: Partial<Record<number | 'error', string>> = route.response ?? {};
    const id = e.status in byStatus ? byStatus[e.status] : e.status >= 400 ? byStatus.error : undefined;
    if (e.response !== undefined) check('response', id, e.response);
  }
  return { violations, used, unmatched };
}
