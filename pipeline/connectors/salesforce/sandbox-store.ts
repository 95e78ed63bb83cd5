// The Salesforce sandbox's data: seeded records (generated on demand from the seed) plus the
// records written since (inserts, updates, deletes), with SystemModstamp advancing on every
// write. A query snapshot holds seeded indexes for untouched records and row objects for the
// written ones, so a million-row result costs a few MB, not a copy of the data.

import { TrueupError } from '../../../staging/model/errors.js';
import { satisfiesComparison } from '../http/sandbox-server.js';
import {
  type SalesforceSeed,
  type SeededObject,
  type SfRow,
  salesforceId,
  seededIndex,
} from './sandbox-data.js';
import { matches, type SoqlCondition } from './sandbox-soql.js';

/** An entry of a snapshot: a seeded index (record unchanged since seeding) or a written row. */
export type Entry = number | SfRow;

/** External id fields the sandbox indexes (others are scanned). */
const EXTERNAL_FIELDS = ['ERP_Id__c', 'CRM_Id__c'];

/** Whether a field is marked External ID (the composite upsert's key must be one; describe says so). */
export function isExternalIdField(field: string): boolean {
  return EXTERNAL_FIELDS.includes(field);
}
const DATETIME_FIELDS = new Set(['SystemModstamp', 'CreatedDate', 'LastModifiedDate']);

export class SalesforceWriteError extends TrueupError {
  override name = 'SalesforceWriteError';
  constructor(
    readonly errorCode: string,
    message: string,
    readonly fields: string[] = [],
  ) {
    super(message);
  }
}

export class ObjectStore {
  /** Written rows by Id (updated or deleted seeded records, and created ones). */
  readonly written = new Map<string, SfRow>();
  /** Ids of created records, in creation order (after the seeded ones). */
  readonly created: string[] = [];
  /** Deleted records purged from the recycle bin: gone for queryAll too. */
  private readonly purged = new Set<string>();
  private byExternal: Map<string, string> | undefined;

  constructor(
    readonly name: string,
    readonly seeded: SeededObject,
  ) {}

  get fields(): readonly string[] {
    return this.seeded.fields;
  }

  row(e: Entry): SfRow {
    return typeof e === 'number' ? this.seeded.record(e) : e;
  }

  get(id: string): SfRow | undefined {
    if (this.purged.has(id)) return undefined;
    const w = this.written.get(id);
    if (w) return w;
    const i = this.seeded.indexOf ? this.seeded.indexOf(id) : seededIndex(this.seeded.keyPrefix, id);
    return i !== undefined && i < this.seeded.count ? this.seeded.record(i) : undefined;
  }

  /** Every record (deleted ones too), seeded order then creation order. */
  *entries(): Generator<Entry> {
    const { count, keyPrefix } = this.seeded;
    const idOf = this.seeded.idOf ?? ((i: number) => salesforceId(keyPrefix, i));
    const anyWritten = this.written.size > 0;
    const anyPurged = this.purged.size > 0;
    for (let i = 0; i < count; i++) {
      const w = anyWritten ? this.written.get(idOf(i)) : undefined;
      if (w && anyPurged && this.purged.has(w.Id!)) continue;
      yield w ?? i;
    }
    for (const id of this.created) if (!anyPurged || !this.purged.has(id)) yield this.written.get(id)!;
  }

  /** Empties the recycle bin of records deleted before `cutoffMs` (they leave queryAll too). */
  purge(cutoffMs: number): void {
    for (const [id, row] of this.written)
      if (row.IsDeleted === 'true' && Date.parse(row.SystemModstamp!) < cutoffMs) this.purged.add(id);
  }

  /** A compiled predicate for a WHERE list; seeded SystemModstamps are compared without building rows. */
  predicate(where: readonly SoqlCondition[], includeDeleted: boolean): (e: Entry) => boolean {
    const tests = where.map((c): ((e: Entry) => boolean) => {
      if (c.field === 'SystemModstamp' && typeof c.value === 'string') {
        const t = Date.parse(c.value);
        return (e) =>
          satisfiesComparison(
            (typeof e === 'number' ? this.seeded.stampMs(e) : Date.parse(e.SystemModstamp!)) - t,
            c.op,
          );
      }
      return (e) => matches(this.row(e)[c.field] ?? '', c, DATETIME_FIELDS.has(c.field));
    });
    return (e) => {
      if (!includeDeleted && typeof e !== 'number' && e.IsDeleted === 'true') return false;
      for (const t of tests) if (!t(e)) return false;
      return true;
    };
  }

  put(row: SfRow, isNew: boolean): void {
    const prev = this.written.get(row.Id!) ?? (isNew ? undefined : this.get(row.Id!));
    this.written.set(row.Id!, row);
    if (isNew) this.created.push(row.Id!);
    if (this.byExternal) {
      for (const f of EXTERNAL_FIELDS) {
        const key = `${f}\0${prev?.[f] ?? ''}`;
        if (prev?.[f] && this.byExternal.get(key) === row.Id) this.byExternal.delete(key);
        if (row[f]) this.byExternal.set(`${f}\0${row[f]}`, row.Id!);
      }
    }
  }

  nextId(): string {
    return salesforceId(this.seeded.keyPrefix, this.seeded.count + this.created.length);
  }

  /** Id of the live record whose `field` equals `value`; the index is built on first use. */
  findByExternalId(field: string, value: string): string | undefined {
    if (!this.byExternal) {
      this.byExternal = new Map();
      for (const e of this.entries()) {
        const r = this.row(e);
        for (const f of EXTERNAL_FIELDS) if (r[f]) this.byExternal.set(`${f}\0${r[f]}`, r.Id!);
      }
    }
    if (EXTERNAL_FIELDS.includes(field)) {
      const id = this.byExternal.get(`${field}\0${value}`);
      return id && this.get(id)?.IsDeleted !== 'true' ? id : undefined;
    }
    for (const e of this.entries()) {
      const r = this.row(e);
      if (r[field] === value && r.IsDeleted !== 'true') return r.Id;
    }
    return undefined;
  }
}

/** All objects of one sandbox org, and the clock that stamps writes. */
export class SalesforceStore {
  readonly objects = new Map<string, ObjectStore>();
  /** Records written by composite upsert, by Id: how often each (tests of "written exactly once"). */
  readonly apiWrites = new Map<string, number>();
  private lastStamp = 0;

  constructor(
    seed: SalesforceSeed,
    private readonly clock: () => number = Date.now,
  ) {
    for (const [name, obj] of Object.entries(seed)) this.objects.set(name, new ObjectStore(name, obj));
  }

  object(name: string): ObjectStore {
    const o = this.objects.get(name);
    if (!o) throw new SalesforceWriteError('INVALID_TYPE', `sObject type '${name}' is not supported.`);
    return o;
  }

  /**
   * Empties every recycle bin of records deleted more than `retentionMs` before the store's
   * clock (Salesforce: 15 days, or earlier when the bin is full).
   */
  purgeRecycleBin(retentionMs: number): void {
    const cutoff = this.clock() - retentionMs;
    for (const o of this.objects.values()) o.purge(cutoff);
  }

  /** A strictly increasing stamp (ms): two writes never share a SystemModstamp. */
  stamp(): string {
    this.lastStamp = Math.max(this.clock(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  insert(sobject: string, fields: Record<string, string>): SfRow {
    const o = this.object(sobject);
    checkFields(o, fields);
    for (const f of o.seeded.required ?? [])
      if (!fields[f])
        throw new SalesforceWriteError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${f}]`, [f]);
    const stamp = this.stamp();
    const row: Record<string, string> = Object.fromEntries(o.fields.map((f) => [f, '']));
    Object.assign(row, fields, {
      Id: o.nextId(),
      SystemModstamp: stamp,
      CreatedDate: stamp,
      IsDeleted: 'false',
    });
    o.put(row, true);
    return row;
  }

  update(sobject: string, id: string, fields: Record<string, string>): SfRow {
    const o = this.object(sobject);
    const prev = o.get(id);
    if (!prev || prev.IsDeleted === 'true')
      throw new SalesforceWriteError('ENTITY_IS_DELETED', `entity is deleted or does not exist: ${id}`);
    checkFields(o, fields);
    const row = { ...prev, ...fields, Id: id, SystemModstamp: this.stamp() };
    o.put(row, false);
    return row;
  }

  delete(sobject: string, id: string): void {
    const o = this.object(sobject);
    const prev = o.get(id);
    if (!prev || prev.IsDeleted === 'true')
      throw new SalesforceWriteError('ENTITY_IS_DELETED', `entity is deleted or does not exist: ${id}`);
    o.put({ ...prev, IsDeleted: 'true', SystemModstamp: this.stamp() }, false);
  }
}

function checkFields(o: ObjectStore, fields: Record<string, string>): void {
  const known = new Set(o.fields);
  for (const f of Object.keys(fields))
    if (!known.has(f) || f === 'Id' || f === 'SystemModstamp' || f === 'IsDeleted')
      throw new SalesforceWriteError('INVALID_FIELD', `No such column '${f}' on sobject of type ${o.name}`, [
        f,
      ]);
}
