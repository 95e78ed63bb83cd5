// Relation messages of the pgoutput stream: which mapped table (if any) a relation oid is, with
// its columns and SQL types; a table mapped to several entities has one Relation per mapping. A
// change that breaks a mapping (a mapped column dropped or retyped) is reported as problems and
// the reader stops that table; the mapping's SQL failing on the new columns (SQLSTATE class 42: a
// column only an expression reads renamed, a permission revoked) stops the stream unacknowledged
// (mappingStoppedError), so the change is read again once it is fixed; any other probe error is
// thrown as transient and retried. See docs/capture.md, "Streaming".
import type pg from 'pg';
import { mappingStoppedError, transientSourceError } from './errors.js';
import type { RelationColumn, TableMapper } from './mapping.js';
import { formatTypes } from './source-admin.js';

/** One mapping of a relation (or, with no mapper, a table trueup does not map). */
export interface Relation {
  oid: number;
  mapper?: TableMapper;
  columns: RelationColumn[];
}

/** A Relation as pg-logical-replication parses it. */
export interface RelationMessage {
  relationOid: number;
  schema: string;
  name: string;
  columns: { name: string; typeOid: number; typeMod: number }[];
}

/** Identifies the source for errors the tracker throws. */
export interface RelationScope {
  tenant: string;
  system: string;
  slot: string;
}

export class RelationTracker {
  private readonly byOid = new Map<number, (Relation & { mapper: TableMapper })[]>();

  constructor(
    private readonly mappers: readonly TableMapper[],
    /** Column type oids of mapped tables at startup, to detect a retyped mapped column. */
    private readonly baseline: ReadonlyMap<string, ReadonlyMap<string, number>>,
    private readonly scope: RelationScope,
  ) {}

  /** The mappings of a relation (empty when the table is not mapped or not announced). */
  get(oid: number): readonly (Relation & { mapper: TableMapper })[] {
    return this.byOid.get(oid) ?? [];
  }

  /** Records a Relation message; returns its mappings and, for a mapped table, what the change breaks. */
  async apply(
    source: pg.ClientBase,
    msg: RelationMessage,
  ): Promise<{ relations: (Relation & { mapper: TableMapper })[]; problems: string[] }> {
    const mappers = this.mappers.filter(
      (m) => m.mapping.schema === msg.schema && m.mapping.table === msg.name,
    );
    if (!mappers.length) {
      this.byOid.delete(msg.relationOid);
      return { relations: [], problems: [] };
    }
    const cols = msg.columns;
    const types = await formatTypes(source, cols);
    const columns = cols.map((c, i) => ({ name: c.name, type: types[i]! }));
    const relations = mappers.map((mapper) => ({ oid: msg.relationOid, mapper, columns }));
    this.byOid.set(msg.relationOid, relations);
    const problems: string[] = [];
    for (const mapper of mappers) {
      const found = await this.check(source, mapper, msg, columns, types);
      // Several mappings of the table: say which one broke.
      problems.push(...(mappers.length > 1 ? found.map((p) => `${mapper.entity}: ${p}`) : found));
    }
    return { relations, problems };
  }

  private async check(
    source: pg.ClientBase,
    mapper: TableMapper,
    msg: RelationMessage,
    columns: RelationColumn[],
    types: string[],
  ): Promise<string[]> {
    const cols = msg.columns;
    const baseline = this.baseline.get(mapper.label);
    const problems: string[] = [];
    for (const ref of mapper.columnRefs()) {
      const i = cols.findIndex((c) => c.name === ref);
      if (i < 0) problems.push(`mapped column "${ref}" was dropped`);
      else if (baseline?.has(ref) && baseline.get(ref) !== cols[i]!.typeOid)
        problems.push(`mapped column "${ref}" changed type to ${types[i]}`);
    }
    if (!problems.length && mapper.needsEval) {
      try {
        await source.query(
          mapper.probeSql(columns),
          columns.map(() => []),
        );
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        // Class 42 (undefined column or function, syntax error, datatype mismatch…): the SQL no
        // longer fits the table. Anything else is no verdict on the schema.
        if (typeof code === 'string' && code.startsWith('42'))
          throw mappingStoppedError(err, { ...this.scope, table: mapper.label, entity: mapper.entity });
        else
          throw transientSourceError(`checking the mapping of ${mapper.label} against its new columns`, err, {
            ...this.scope,
            table: mapper.label,
          });
      }
    }
    return problems;
  }
}
