// The HubSpot sandbox's associations (CRM v4): a store of record → associated records with their
// association type ids, filled from seeds (`HubspotSeedRecord.associations`) or by tests
// (`associate`, `dissociate`), and `POST /crm/v4/associations/{from}/{to}/batch/read` with
// HubSpot's documented shapes and limits (WIRE.md, "Associations"): at most 1,000 inputs (else
// 400), `results: [{from: {id}, to: [{toObjectId, associationTypes}], paging?}]`, a record
// without associations (or without a live record) as a 207 error with subCategory
// crm.associations.NO_ASSOCIATIONS_FOUND naming it in `context.fromObjectId`, and a record's
// associations paged by `{id, after}` (page size `associationPageSize`, unconfirmed, default 500).
// Associations are kept in the direction they were made (from → to): the connector reads only
// that direction.
import type { SandboxResponse } from '../http/sandbox-server.js';
import type { HubspotObjectType } from './config.js';
import { hubspotError } from './hubspot-sandbox-wire.js';

/** HubSpot-defined type ids (v4 guide, "Association type ID values"): the unlabeled and the primary type. */
const TYPE_IDS: Readonly<Record<string, { plain: number; primary?: number }>> = {
  'deals→companies': { plain: 341, primary: 5 },
  'contacts→companies': { plain: 279, primary: 1 },
  'invoices→companies': { plain: 179 },
  'invoices→deals': { plain: 175 },
  'invoices→contacts': { plain: 177 },
  'deals→contacts': { plain: 3 },
  'companies→deals': { plain: 342, primary: 6 },
};

const SINGULAR: Record<HubspotObjectType, string> = {
  companies: 'company',
  contacts: 'contact',
  products: 'product',
  deals: 'deal',
  invoices: 'invoice',
};

/** A seeded association: the associated record's id, or with `primary: true` the primary one. */
export type SeedAssociation = string | { id: string; primary?: boolean };

export interface AssociationOptions {
  /** Associated records per record and page of the batch read (unconfirmed; default 500). */
  associationPageSize?: number;
  /**
   * Whether a change of associations bumps the from record's hs_lastmodifieddate. HubSpot does
   * not document that it does (WIRE.md): default false.
   */
  associationChangeBumpsStamp?: boolean;
}

export class AssociationStore {
  /** `${from}:${fromId}:${to}` → associated id → type ids. */
  private readonly links = new Map<string, Map<string, number[]>>();
  /** Batch read requests served (tests of how many calls a sync makes). */
  reads = 0;

  constructor(
    private readonly opts: AssociationOptions,
    /** Whether a live record exists. */
    private readonly exists: (type: HubspotObjectType, id: string) => boolean,
    /** Called after a change (the sandbox bumps the record's stamp when so configured). */
    private readonly changed: (type: HubspotObjectType, id: string) => void,
  ) {}

  /** Associates `fromId` with `toId` (primary: with the pair's primary type too, and only it primary). */
  associate(
    from: HubspotObjectType,
    fromId: string,
    to: HubspotObjectType,
    toId: string,
    opts: { primary?: boolean; quiet?: boolean } = {},
  ): void {
    const key = `${from}:${fromId}:${to}`;
    const types = TYPE_IDS[`${from}→${to}`] ?? { plain: 1 };
    const map = this.links.get(key) ?? new Map<string, number[]>();
    if (opts.primary && types.primary !== undefined)
      for (const [id, t] of map)
        map.set(
          id,
          t.filter((x) => x !== types.primary),
        );
    map.set(toId, opts.primary && types.primary !== undefined ? [types.primary, types.plain] : [types.plain]);
    this.links.set(key, map);
    if (!opts.quiet && this.opts.associationChangeBumpsStamp) this.changed(from, fromId);
  }

  /** Removes the association with `toId`, or every association of the pair of types. */
  dissociate(from: HubspotObjectType, fromId: string, to: HubspotObjectType, toId?: string): void {
    const key = `${from}:${fromId}:${to}`;
    if (toId === undefined) this.links.delete(key);
    else this.links.get(key)?.delete(toId);
    if (this.opts.associationChangeBumpsStamp) this.changed(from, fromId);
  }

  /** The associated ids of one record (tests). */
  of(from: HubspotObjectType, fromId: string, to: HubspotObjectType): string[] {
    return [...(this.links.get(`${from}:${fromId}:${to}`)?.keys() ?? [])];
  }

  seed(
    from: HubspotObjectType,
    fromId: string,
    assoc: Partial<Record<HubspotObjectType, SeedAssociation[]>>,
  ): void {
    for (const [to, list] of Object.entries(assoc) as [HubspotObjectType, SeedAssociation[]][])
      for (const a of list ?? [])
        this.associate(from, fromId, to, typeof a === 'string' ? a : a.id, {
          primary: typeof a === 'object' && a.primary === true,
          quiet: true,
        });
  }

  batchRead(from: HubspotObjectType, to: HubspotObjectType, body: { inputs?: unknown }): SandboxResponse {
    this.reads++;
    const inputs = body?.inputs;
    if (!Array.isArray(inputs) || inputs.length > 1000)
      return hubspotError(400, 'inputs must be an array of at most 1000 items', 'VALIDATION_ERROR');
    const size = this.opts.associationPageSize ?? 500;
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs as { id?: unknown; after?: unknown }[]) {
      const id = String(input?.id ?? '');
      const all = this.exists(from, id) ? [...(this.links.get(`${from}:${id}:${to}`) ?? new Map())] : [];
      const live = all.filter(([toId]) => this.exists(to, toId)).sort(([a], [b]) => cmp(a, b));
      if (!live.length) {
        errors.push({
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND',
          message: `No ${SINGULAR[to]} is associated with ${SINGULAR[from]} ${id}.`,
          context: { fromObjectId: [id], fromObjectType: [SINGULAR[from]], toObjectType: [SINGULAR[to]] },
          errors: [],
          links: {},
        });
        continue;
      }
      const start = Number(input?.after ?? 0) || 0;
      const page = live.slice(start, start + size);
      const r: Record<string, unknown> = {
        from: { id },
        to: page.map(([toId, types]) => ({
          toObjectId: toId, // a string in the spec (the guide's example shows numbers; the connector takes both)
          associationTypes: (types as number[]).map((typeId) => ({
            category: 'HUBSPOT_DEFINED',
            typeId,
            label: typeId === TYPE_IDS[`${from}→${to}`]?.primary ? 'Primary' : null,
          })),
        })),
      };
      if (start + size < live.length) r.paging = { next: { after: String(start + size) } };
      results.push(r);
    }
    const now = new Date().toISOString();
    const out: Record<string, unknown> = { status: 'COMPLETE', results, startedAt: now, completedAt: now };
    if (errors.length) Object.assign(out, { numErrors: errors.length, errors });
    return { status: errors.length ? 207 : 200, body: out };
  }
}

function cmp(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}
