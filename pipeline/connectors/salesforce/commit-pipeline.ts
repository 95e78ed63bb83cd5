// Committing a Salesforce object's units to staging in order, one at a time, while the extractor
// builds the next ones (extractor.ts): each unit with the position after it, in one transaction.
import { commitUnit, type PendingUnit, preparePendingUnit } from '../sync-support.js';
import type { ExtractObjectContext, SalesforcePosition } from './extractor.js';

/** The first unit of a run (slow start, see CommitPipeline). */
const FIRST_UNIT_ROWS = 2_000;

/**
 * Commits units in order, one at a time, while the caller builds the next ones: Postgres merges
 * unit N while unit N + 1 waits and this thread maps unit N + 2 (at most three units in memory).
 * The waiting unit keeps Postgres busy across a chunk boundary, where the next chunk's first unit
 * is still being requested and parsed. `pos` follows each commit, so it always equals the
 * committed checkpoint. After a failed commit nothing more is committed: the next add() or
 * settle() throws its error.
 */
export class CommitPipeline {
  /** Units handed over and not yet settled, oldest first; each promise settles with its commit. */
  private queue: Promise<void>[] = [];
  private failure: { err: unknown } | undefined;
  /**
   * Rows the next unit holds: batchSize, except that a run starts with small units doubling up
   * to it (slow start), so Postgres begins merging after a few thousand rows instead of waiting
   * for a whole batch to be fetched and parsed.
   */
  unitRows: number;

  constructor(
    private readonly ctx: ExtractObjectContext,
    private readonly pos: SalesforcePosition,
  ) {
    this.unitRows = Math.min(ctx.config.bulk.batchSize, FIRST_UNIT_ROWS);
  }

  /** Hands `unit` over to be committed with the position after it, once fewer than two wait. */
  async add(at: SalesforcePosition, unit: PendingUnit): Promise<void> {
    // Validated and encoded here, while the units before it commit.
    preparePendingUnit(unit, {
      tenant: this.ctx.tenant,
      system: this.ctx.system,
      location: unitLocation(this.ctx),
    });
    while (this.queue.length >= 2) await this.queue.shift();
    this.throwFailure();
    if (unit.rows) this.unitRows = Math.min(this.ctx.config.bulk.batchSize, this.unitRows * 2);
    const previous = this.queue.at(-1) ?? Promise.resolve();
    this.queue.push(
      previous.then(async () => {
        if (this.failure) return;
        try {
          await commit(this.ctx, at, unit);
          this.pos.since = at.since;
          if (at.window) this.pos.window = at.window;
          else delete this.pos.window;
        } catch (err) {
          this.failure = { err };
        }
      }),
    );
  }

  /** Waits until every unit is settled; throws (once) the error of a failed commit. */
  async settle(): Promise<void> {
    const queue = this.queue;
    this.queue = [];
    await Promise.all(queue);
    this.throwFailure();
  }

  private throwFailure(): void {
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure.err;
  }
}

const unitLocation = (ctx: ExtractObjectContext) => `salesforce ${ctx.mapping.sobject}`;

async function commit(ctx: ExtractObjectContext, position: SalesforcePosition, unit: PendingUnit) {
  const rows = unit.rows;
  ctx.report.received += rows;
  await commitUnit(ctx.deps.staging.pool, {
    tenant: ctx.tenant,
    system: ctx.system,
    stream: ctx.mapping.sobject,
    position,
    unit,
    report: ctx.report,
    location: unitLocation(ctx),
  });
  try {
    await ctx.onUnitStaged?.({ stream: ctx.mapping.sobject, rows, position });
  } catch (err) {
    // The hook stands for a crash right after the commit: never retried here.
    throw Object.assign(new Error(`stopped after a staged unit: ${(err as Error).message}`), {
      kind: 'terminal',
    });
  }
}
