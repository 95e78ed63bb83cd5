// A local HubSpot CRM v3 server over seeded, stateful records, for the tests, the demo and
// `trueup sandbox hubspot`. Every behaviour is a line of WIRE.md: list with `after` cursors and
// no `paging` on the last page, `archived=true`, search with filters/sorts/after, the
// 10,000-result cap answered with HubSpot's 400 and search's own per-second limit (429
// SECONDLY), batch upsert by a unique idProperty (hubspot-sandbox-upsert.ts: 207 per traced
// input, 400 for the whole untraced batch), single create/update/archive, and the v4
// associations batch read (hubspot-sandbox-associations.ts); stamps advance on every write.
// Faults (rate-limit,
// daily limit, 5xx, slow, dropped) come from the shared SandboxServer with HubSpot's own bodies.
// Tokens are checked by SandboxServer, which lets tests expire and issue them during a run (an
// OAuth access token expiring mid-load; an expired one gets HubSpot's EXPIRED_AUTHENTICATION) and
// script exact responses with `respondNext`.
import { type FaultConfig, SandboxServer, satisfiesComparison } from '../http/sandbox-server.js';
import { HUBSPOT_OBJECT_TYPES, type HubspotObjectType } from './config.js';
import type { HubspotRecord } from './hubspot-extractor.js';
import { type AssociationOptions, AssociationStore } from './hubspot-sandbox-associations.js';
import { batchRead } from './hubspot-sandbox-read.js';
import { batchUpsert } from './hubspot-sandbox-upsert.js';
import {
  cmpId,
  compareValues,
  hubspotError,
  SECONDLY_LIMITED,
  STAMP_PROPS,
  VENDOR_FAULTS,
} from './hubspot-sandbox-wire.js';
import { generateHubspotSeed, type HubspotSeedOptions, type HubspotSeedRecords } from './hubspot-seed.js';

export interface HubspotSandboxOptions extends HubspotSeedOptions, AssociationOptions {
  /** Records to serve; default: generateHubspotSeed(seed, counts). The ground-truth seam. */
  records?: HubspotSeedRecords;
  tokens?: string[];
  faults?: FaultConfig;
  /** Search cannot page past this many results (HubSpot: 10,000). */
  searchResultCap?: number;
  /** Search GTE filters on stamps match this much earlier (HubSpot returns records slightly before). */
  searchLeakMs?: number;
  /** Clock for write stamps (epoch ms). */
  now?: () => number;
  /** Search requests allowed per second (HubSpot: 4 per token; 0 = no limit). */
  searchRequestsPerSecond?: number;
  /** Properties with unique values, which batch upsert accepts as idProperty (default erp_id). */
  uniqueProperties?: readonly string[];
  /** Keep every exchange (contract tests). */
  record?: boolean;
}

interface Stored {
  id: string;
  properties: Record<string, string | null>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
  /** Rendered with an unreadable stamp and no updatedAt (malformed-row fault). */
  corrupt?: boolean;
}

interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
  values?: string[];
}
interface SearchBody {
  filterGroups?: { filters: Filter[] }[];
  sorts?: ({ propertyName: string; direction?: string } | string)[];
  properties?: string[];
  limit?: number;
  after?: string;
}

export class HubspotSandbox {
  readonly server: SandboxServer;
  readonly store = new Map<HubspotObjectType, Map<string, Stored>>();
  /** Records written by batch upsert, by id: how often each (tests of "written exactly once"). */
  readonly apiWrites = new Map<string, number>();
  /** Records served by list, search and batch read (tests of what a read asked for). */
  recordsServed = 0;
  /** Associations between records (CRM v4 batch read; hubspot-sandbox-associations.ts). */
  readonly associations: AssociationStore;
  private nextId = 1000;
  private version = 0;
  private readonly cache = new Map<string, { version: number; ids: Stored[] }>();
  private readonly now: () => number;

  constructor(private readonly opts: HubspotSandboxOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.server = new SandboxServer({
      tokens: opts.tokens ?? [],
      faults: opts.faults ?? {},
      vendor: VENDOR_FAULTS,
      ...(opts.record ? { record: true } : {}),
    });
    for (const t of HUBSPOT_OBJECT_TYPES) this.store.set(t, new Map());
    this.associations = new AssociationStore(
      opts,
      (type, id) => this.table(type).get(id)?.archived === false,
      (type, id) => {
        if (this.table(type).get(id)?.archived === false) this.update(type, id, {});
      },
    );
    const records = opts.records ?? generateHubspotSeed(opts);
    for (const [type, list] of Object.entries(records) as [
      HubspotObjectType,
      HubspotSeedRecords['companies'],
    ][])
      for (const r of list ?? []) {
        const id = r.id ?? String(this.nextId++);
        const t = r.updatedAt ?? this.now();
        this.table(type).set(id, {
          id,
          properties: { ...r.properties },
          createdAt: r.createdAt ?? t,
          updatedAt: t,
          archived: r.archived ?? false,
          archivedAt: r.archived ? (r.archivedAt ?? t) : null,
        });
        if (/^\d+$/.test(id)) this.nextId = Math.max(this.nextId, Number(id) + 1);
        if (r.associations) this.associations.seed(type, id, r.associations);
      }
    this.routes();
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return this.server.listen(port, host);
  }
  close(): Promise<void> {
    return this.server.close();
  }

  table(type: HubspotObjectType): Map<string, Stored> {
    return this.store.get(type)!;
  }

  // ---- state changes (endpoints and tests use the same ones) ----

  create(type: HubspotObjectType, properties: Record<string, string | null>, stamp = this.now()): Stored {
    const id = String(this.nextId++);
    const rec: Stored = {
      id,
      properties: { ...properties },
      createdAt: stamp,
      updatedAt: stamp,
      archived: false,
      archivedAt: null,
    };
    this.table(type).set(id, rec);
    this.version++;
    return rec;
  }

  update(
    type: HubspotObjectType,
    id: string,
    properties: Record<string, string | null>,
    stamp = this.now(),
  ): Stored {
    const rec = this.table(type).get(id);
    if (!rec || rec.archived) throw new Error(`no ${type} ${id}`);
    Object.assign(rec.properties, properties);
    rec.updatedAt = Math.max(stamp, rec.updatedAt);
    this.version++;
    return rec;
  }

  archive(type: HubspotObjectType, id: string, stamp = this.now()): void {
    const rec = this.table(type).get(id);
    if (!rec || rec.archived) return;
    rec.archived = true;
    rec.archivedAt = Math.max(stamp, rec.updatedAt);
    this.version++;
  }

  /** Ids search does not return yet (index lag); list and get still show them. */
  private readonly unindexed = new Set<string>();

  /** Search index lag: the record is left out of search results until `indexNow`. */
  hideFromSearch(type: HubspotObjectType, id: string): void {
    this.unindexed.add(`${type}:${id}`);
    this.version++;
  }

  indexNow(type: HubspotObjectType, id: string): void {
    this.unindexed.delete(`${type}:${id}`);
    this.version++;
  }

  corrupt(type: HubspotObjectType, id: string): void {
    const rec = this.table(type).get(id);
    if (rec) rec.corrupt = true;
    this.version++;
  }

  /** Live (not archived) records as the API shows them, by id. */
  live(type: HubspotObjectType): Stored[] {
    return [...this.table(type).values()].filter((r) => !r.archived);
  }

  // ---- wire ----

  render(type: HubspotObjectType, r: Stored, props?: readonly string[]): HubspotRecord {
    const all: Record<string, string | null> = {
      ...r.properties,
      hs_object_id: r.id,
      [type === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate']: new Date(r.updatedAt).toISOString(),
      [type === 'contacts' ? 'createdate' : 'hs_createdate']: new Date(r.createdAt).toISOString(),
    };
    const properties: Record<string, string | null> = {};
    const names = props?.length ? props : Object.keys(all);
    for (const p of names) properties[p] = all[p] ?? null;
    for (const p of [
      'hs_object_id',
      'hs_lastmodifieddate',
      'lastmodifieddate',
      'hs_createdate',
      'createdate',
    ])
      if (p in all) properties[p] = all[p] ?? null;
    const out: HubspotRecord = {
      id: r.id,
      properties,
      createdAt: new Date(r.createdAt).toISOString(),
      updatedAt: new Date(r.updatedAt).toISOString(),
      archived: r.archived,
    };
    if (r.archivedAt !== null) out.archivedAt = new Date(r.archivedAt).toISOString();
    if (r.corrupt) {
      properties.hs_lastmodifieddate = 'not a date';
      properties.lastmodifieddate = 'not a date';
      delete out.updatedAt;
    }
    return out;
  }

  private routes(): void {
    const s = this.server;
    const typeOf = (p: Record<string, string>): HubspotObjectType | null =>
      (HUBSPOT_OBJECT_TYPES as readonly string[]).includes(p.type ?? '')
        ? (p.type as HubspotObjectType)
        : null;
    const unknown = (p: Record<string, string>) =>
      hubspotError(404, `Unable to infer object type from: ${p.type}`, 'OBJECT_NOT_FOUND');

    s.route('GET', '/crm/v3/objects/:type', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      const q = req.url.searchParams;
      const limit = Math.min(Number(q.get('limit') ?? 10) || 10, 100);
      const archived = q.get('archived') === 'true';
      const after = q.get('after');
      const props = q.get('properties')?.split(',').filter(Boolean);
      const rows = this.sortedById(type).filter((r) => r.archived === archived);
      let start = 0;
      if (after) {
        const a = BigInt(after);
        start = rows.findIndex((r) => BigInt(r.id) > a);
        if (start < 0) start = rows.length;
      }
      const page = rows.slice(start, start + limit);
      this.recordsServed += page.length;
      const body: Record<string, unknown> = { results: page.map((r) => this.render(type, r, props)) };
      if (start + limit < rows.length) {
        const next = page.at(-1)!.id;
        body.paging = { next: { after: next, link: `${req.url.pathname}?after=${next}` } };
      }
      return { status: 200, body };
    });

    s.route('POST', '/crm/v3/objects/:type/search', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      if (!this.searchAllowed()) return SECONDLY_LIMITED();
      const b = req.json<SearchBody>();
      const limit = b.limit ?? 10;
      if (limit > 200) return hubspotError(400, 'limit must be 200 or less', 'VALIDATION_ERROR');
      const after = Number(b.after ?? 0);
      const cap = this.opts.searchResultCap ?? 10_000;
      if (after >= cap)
        return hubspotError(400, `Cannot page past ${cap} results for a search query.`, 'VALIDATION_ERROR');
      const rows = this.searchRows(type, b);
      const page = rows.slice(after, after + limit);
      this.recordsServed += page.length;
      const body: Record<string, unknown> = {
        total: rows.length,
        results: page.map((r) => this.render(type, r, b.properties)),
      };
      if (after + limit < rows.length) body.paging = { next: { after: String(after + limit) } };
      return { status: 200, body };
    });

    s.route('POST', '/crm/v3/objects/:type/batch/upsert', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      return batchUpsert(this, type, req.json<{ inputs?: unknown }>(), {
        uniqueProperties: new Set(this.opts.uniqueProperties ?? ['erp_id']),
        now: this.now,
      });
    });

    s.route('POST', '/crm/v3/objects/:type/batch/read', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      const out = batchRead(this, type, req.json());
      this.recordsServed += (out.body as { results?: unknown[] } | undefined)?.results?.length ?? 0;
      return out;
    });

    s.route('POST', '/crm/v4/associations/:type/:to/batch/read', (req, p) => {
      const type = typeOf(p);
      const to = typeOf({ type: p.to ?? '' });
      if (!type || !to) return unknown(type ? { type: p.to ?? '' } : p);
      return this.associations.batchRead(type, to, req.json());
    });

    s.route('POST', '/crm/v3/objects/:type', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      const rec = this.create(type, req.json<{ properties: Record<string, string> }>().properties ?? {});
      return { status: 201, body: this.render(type, rec) };
    });
    s.route('PATCH', '/crm/v3/objects/:type/:id', (req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      if (!this.table(type).get(p.id ?? '') || this.table(type).get(p.id ?? '')?.archived)
        return hubspotError(404, `resource not found: ${p.id}`, 'OBJECT_NOT_FOUND');
      const rec = this.update(
        type,
        p.id!,
        req.json<{ properties: Record<string, string> }>().properties ?? {},
      );
      return { status: 200, body: this.render(type, rec) };
    });
    s.route('DELETE', '/crm/v3/objects/:type/:id', (_req, p) => {
      const type = typeOf(p);
      if (!type) return unknown(p);
      this.archive(type, p.id ?? '');
      return { status: 204 };
    });
  }

  /** Search requests of the last second (HubSpot limits search on its own, per token). */
  private readonly searches: number[] = [];

  private searchAllowed(): boolean {
    const limit = this.opts.searchRequestsPerSecond ?? 4;
    if (limit <= 0) return true;
    const now = Date.now();
    while (this.searches.length && this.searches[0]! <= now - 1000) this.searches.shift();
    if (this.searches.length >= limit) return false;
    this.searches.push(now);
    return true;
  }

  private sortedById(type: HubspotObjectType): Stored[] {
    return this.cached(`list:${type}`, () =>
      [...this.table(type).values()].sort((a, b) => cmpId(a.id, b.id)),
    );
  }

  private searchRows(type: HubspotObjectType, b: SearchBody): Stored[] {
    const key = `search:${type}:${JSON.stringify([b.filterGroups, b.sorts])}`;
    return this.cached(key, () => {
      const groups = b.filterGroups?.length ? b.filterGroups : [{ filters: [] }];
      const rows = [...this.table(type).values()].filter(
        (r) =>
          !r.archived &&
          !this.unindexed.has(`${type}:${r.id}`) &&
          groups.some((g) => g.filters.every((f) => this.matches(type, r, f))),
      );
      const sort = b.sorts?.[0];
      const sortProp = typeof sort === 'string' ? sort : sort?.propertyName;
      const desc = typeof sort === 'object' && sort.direction === 'DESCENDING' ? -1 : 1;
      return rows.sort((x, y) => {
        if (!sortProp) return cmpId(x.id, y.id);
        const c = compareValues(sortProp, this.value(type, x, sortProp), this.value(type, y, sortProp));
        // Ties in id order: stable pages within one query.
        return c !== 0 ? c * desc : cmpId(x.id, y.id);
      });
    });
  }

  private value(type: HubspotObjectType, r: Stored, prop: string): string | null {
    if (prop === 'hs_object_id') return r.id;
    if (prop === 'hs_lastmodifieddate' || prop === 'lastmodifieddate') return String(r.updatedAt);
    if (prop === 'hs_createdate' || prop === 'createdate') return String(r.createdAt);
    void type;
    return r.properties[prop] ?? null;
  }

  private matches(type: HubspotObjectType, r: Stored, f: Filter): boolean {
    const v = this.value(type, r, f.propertyName);
    if (f.operator === 'HAS_PROPERTY') return v !== null && v !== '';
    if (f.operator === 'NOT_HAS_PROPERTY') return v === null || v === '';
    if (f.operator === 'IN') return v !== null && (f.values ?? []).includes(v);
    if (v === null) return false;
    let target = f.value ?? '';
    if (STAMP_PROPS.has(f.propertyName)) {
      const ms = /^\d+$/.test(target) ? Number(target) : Date.parse(target);
      target = String(f.operator === 'GTE' || f.operator === 'GT' ? ms - (this.opts.searchLeakMs ?? 0) : ms);
    }
    return satisfiesComparison(compareValues(f.propertyName, v, target), f.operator);
  }

  private cached(key: string, build: () => Stored[]): Stored[] {
    const hit = this.cache.get(key);
    if (hit && hit.version === this.version) return hit.ids;
    if (this.cache.size > 200) this.cache.clear();
    const ids = build();
    this.cache.set(key, { version: this.version, ids });
    return ids;
  }
}
