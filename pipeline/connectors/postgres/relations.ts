// Relation messages of the pgoutput stream. A Relation message precedes the first row of a
// table in a session and follows any change of its columns; it says which mapped table (if
// any) a relation oid is, and the columns (with SQL types, to re-type streamed rows when the
// source evaluates expressions). Each message yields a new Relation object, so rows held from
// before a schema change keep the columns they were decoded with.
//
// A change that breaks the mapping — a mapped column dropped or retyped, or the mapping's SQL no
// longer valid on the new columns — is reported as problems; the reader then stops that table.
import type pg from 'pg';
import type { RelationColumn, TableMapper } from './mapping.js';
import { formatTypes } from './source-admin.js';

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

export class RelationTracker {
  private readonly byOid = new Map<number, Relation>();

  constructor(
    private readonly mappers: readonly TableMapper[],
    /** Column type oids of mapped tables at startup, to detect a retyped mapped column. */
    private readonly baseline: ReadonlyMap<string, ReadonlyMap<string, number>>,
  ) {}

  get(oid: number): Relation | undefined {
    return this.byOid.get(oid);
  }

  /** Records a Relation message; returns the relation and, for a mapped table, what the change breaks. */
  async apply(
    source: pg.ClientBase,
    msg: RelationMessage,
  ): Promise<{ relation: Relation; problems: string[] }> {
    const mapper = this.mappers.find((m) => m.mapping.schema === msg.schema && m.mapping.table === msg.name);
    if (!mapper) {
      const relation = { oid: msg.relationOid, columns: [] };
      this.byOid.set(msg.relationOid, relation);
      return { relation, problems: [] };
    }
    const cols = msg.columns;
    const types = await formatTypes(source, cols);
    const columns = cols.map((c, i) => ({ name: c.name, type: types[i]! }));
    const relation: Relation = { oid: msg.relationOid, mapper, columns };
    this.byOid.set(msg.relationOid, relation);
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
        problems.push(`the mapping's SQL no longer works on the new columns: ${(err as Error).message}`);
      }
    }
    return { relation, problems };
  }
}
