// The summary of one tenant's reconcile run, as summary.json and control.runs hold it: counts by
// class and entity, money variance by currency, material and accepted counts, resolved and
// resolved-in-flight counts, the sources' positions at the start, every job's result (with each
// side's open dead letters and completeness), and the sides that are incomplete.
import { addDecimal } from '../classify/decimal.js';
import type { JobResult, ReconcileMode, StreamPosition } from '../pool/job-protocol.js';

export interface RunSummary {
  tenant: string;
  runId: string;
  status: 'succeeded' | 'failed';
  mode: ReconcileMode;
  startedAt: string;
  finishedAt: string;
  outputDir: string;
  sourcePositions: StreamPosition[];
  totals: {
    discrepancies: number;
    material: number;
    /** Discrepancies (and material ones) a reviewer accepted: not counted by --fail-on. */
    accepted: number;
    acceptedMaterial: number;
    actions: number;
    resolved: number;
    resolvedInFlight: number;
  };
  countsByClass: Record<string, number>;
  countsByEntity: Record<string, Record<string, number>>;
  moneyVariance: Record<string, string>;
  /**
   * The sides whose open dead letters exceed sync.maxDeadLetterShare of their records: their
   * results are incomplete (`reconcile --fail-on` fails unless --allow-incomplete).
   */
  incomplete: IncompleteSide[];
  entities: JobResult[];
  errors: { entity: string; message: string }[];
}

export interface IncompleteSide {
  entity: string;
  side: 'crm' | 'erp';
  system: string;
  deadLetters: number;
  staged: number;
  deadLetterShare: number;
  completeness: number;
  maxDeadLetterShare: number;
}

export function summarise(x: {
  tenant: string;
  runId: string;
  mode: ReconcileMode;
  started: Date;
  outputDir: string;
  positions: StreamPosition[];
  results: JobResult[];
  errors: { entity: string; message: string }[];
}): RunSummary {
  const countsByClass: Record<string, number> = {};
  const countsByEntity: Record<string, Record<string, number>> = {};
  const moneyVariance: Record<string, string> = {};
  const totals = {
    discrepancies: 0,
    material: 0,
    accepted: 0,
    acceptedMaterial: 0,
    actions: 0,
    resolved: 0,
    resolvedInFlight: 0,
  };
  for (const r of x.results) {
    countsByEntity[r.entity] = r.counts;
    for (const [k, n] of Object.entries(r.counts)) countsByClass[k] = (countsByClass[k] ?? 0) + n;
    for (const [c, v] of Object.entries(r.moneyVariance))
      moneyVariance[c] = addDecimal(moneyVariance[c] ?? '0', v);
    totals.discrepancies += r.discrepancies;
    totals.material += r.material;
    totals.accepted += r.accepted;
    totals.acceptedMaterial += r.acceptedMaterial;
    totals.actions += r.actions;
    totals.resolved += r.resolved;
    totals.resolvedInFlight += r.resolvedInFlight;
  }
  const incomplete = x.results.flatMap((r) =>
    (r.completeness?.incomplete ?? []).map((side) => {
      const c = r.completeness[side];
      return {
        entity: r.entity,
        side,
        system: c.system,
        deadLetters: c.deadLetters,
        staged: c.staged,
        deadLetterShare: c.deadLetterShare,
        completeness: c.completeness,
        maxDeadLetterShare: r.completeness.maxDeadLetterShare,
      };
    }),
  );
  return {
    tenant: x.tenant,
    runId: x.runId,
    status: x.errors.length ? 'failed' : 'succeeded',
    mode: x.mode,
    startedAt: x.started.toISOString(),
    finishedAt: new Date().toISOString(),
    outputDir: x.outputDir,
    sourcePositions: x.positions,
    totals,
    countsByClass,
    countsByEntity,
    moneyVariance,
    incomplete,
    entities: x.results,
    errors: x.errors,
  };
}
