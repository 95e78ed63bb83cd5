// Committing a stream's units to staging in order, one at a time, while the extractor builds the
// next ones (extractor.ts): each unit with the position after it, in one transaction.
import type { StreamOutput } from '../contract.js';
import { type PendingUnit, preparePendingUnit } from '../pending-unit.js';

/** The first unit of a run (slow start, see CommitPipeline). */
const FIRST_UNIT_ROWS = 2_000;

export interface CommitPipelineOptions<P> {
  out: StreamOutput<P>;
  scope: { tenant: string; system: string; location: string };
  /** Rows a unit grows to (after the slow start). */
  batchSize: number;
  /** Told each position once its unit has committed. */
  committed: (at: P) => void;
}

/**
 * Commits units in order, one at a time, while the caller builds the next ones: Postgres merges
 * unit N while unit N + 1 waits and this thread maps unit N + 2 (at most three units in memory).
 * The waiting unit keeps Postgres busy across a chunk boundary, where the next chunk's first unit
 * is still being requested and parsed. After a failed commit nothing more is committed: the next
 * add() or settle() throws its error.
 */
export class CommitPipeline<P> {
  /** Units handed over and not yet settled, oldest first; each promise settles with its commit. */
  private queue: Promise<void>[] = [];
  private failure: { err: unknown } | undefined;
  /**
   * Rows the next unit holds: batchSize, except that a run starts with small units doubling up
   * to it (slow start), so Postgres begins merging after a few thousand rows instead of waiting
   * for a whole batch to be fetched and parsed.
   */
  unitRows: number;

  constructor(private readonly opts: CommitPipelineOptions<P>) {
    this.unitRows = Math.min(opts.batchSize, FIRST_UNIT_ROWS);
  }

  /** Hands `unit` over to be committed with the position after it, once fewer than two wait. */
  async add(at: P, unit: PendingUnit): Promise<void> {
    // Validated and encoded here, while the units before it commit.
    preparePendingUnit(unit, this.opts.scope);
    while (this.queue.length >= 2) await this.queue.shift();
    this.throwFailure();
    if (unit.rows) this.unitRows = Math.min(this.opts.batchSize, this.unitRows * 2);
    const previous = this.queue.at(-1) ?? Promise.resolve();
    this.queue.push(
      previous.then(async () => {
        if (this.failure) return;
        try {
          this.opts.out.received(unit.rows);
          await this.opts.out.commit(at, unit, this.opts.scope.location);
          this.opts.committed(at);
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
