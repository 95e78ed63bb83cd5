// Bulk API 2.0 query jobs over the shared ApiClient: create a job, poll it with growing waits
// until JobComplete, and read its result chunks by Sforce-Locator. A chunk's CSV is parsed
// straight from the response body stream by fast-csv on a parse thread (parseCsvChunks: rows
// handed back in groups, bounded read-ahead), so memory does not grow with the chunk size.
import type { ReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { TrueupError } from '../../../staging/model/errors.js';
import { parseCsvChunks } from '../csv/parse-csv-stream.js';
import { type ApiClient, ApiError, type RetryBudget } from '../http/api-client.js';

/**
 * A job as the API describes it, checked before it is used (RequestOptions.schema): a 200 without
 * an id or a known state (an HTML page, an empty body) is transient, never a job to save in a
 * checkpoint or to read as finished.
 */
const bulkJobInfo = z.object({
  id: z.string().regex(/^[A-Za-z0-9]{15,18}$/),
  operation: z.string().optional(),
  object: z.string().optional(),
  state: z.enum(['Open', 'UploadComplete', 'InProgress', 'JobComplete', 'Failed', 'Aborted']),
  errorMessage: z.string().nullish(),
  numberRecordsProcessed: z.number().int().min(0).optional(),
});
export type BulkJobInfo = z.infer<typeof bulkJobInfo>;

/**
 * The cap of one result chunk's body. A chunk is parsed as it arrives (never held whole), so it
 * may pass the client's limits.maxBodyBytes; this only bounds a body that never ends.
 */
export const BULK_CHUNK_MAX_BYTES = 2 * 1024 ** 3;

export interface PollSettings {
  minMs: number;
  maxMs: number;
  timeoutMs: number;
}

/** A job ended Failed or Aborted, or did not finish in time. */
export class BulkJobError extends TrueupError {
  override name = 'BulkJobError';
  constructor(
    message: string,
    kind: 'terminal' | 'transient',
    readonly jobId: string,
    readonly state: string,
  ) {
    super(message, { kind });
  }
}

export interface ResultChunk {
  /** The locator of the next chunk, or null after the last one (header literally "null"). */
  next: string | null;
  /** Sforce-NumberOfRecords, when sent. */
  numberOfRecords: number | null;
  /** The CSV rows, header first, as arrays of cells ("" for null), in batches as they arrive. */
  rows: AsyncIterable<string[][]>;
}

/**
 * A SOQL dateTime literal in the documented form YYYY-MM-DDThh:mm:ssZ (whole seconds, WIRE.md
 * "SOQL"); a stamp with milliseconds is rounded down (`floor`) or up, so a window never shrinks.
 */
export function soqlDateTime(iso: string, round: 'floor' | 'ceil'): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new TrueupError(`window bound ${JSON.stringify(iso)} is not a datetime`);
  const s = (round === 'floor' ? Math.floor(ms / 1000) : Math.ceil(ms / 1000)) * 1000;
  return `${new Date(s).toISOString().slice(0, 19)}Z`;
}

/** Builds the extraction query for the window [from, to) on SystemModstamp (from null: from the beginning). */
export function windowQuery(
  fields: readonly string[],
  object: string,
  from: string | null,
  to: string,
): string {
  const lower = from ? `SystemModstamp >= ${soqlDateTime(from, 'floor')} AND ` : '';
  return `SELECT ${fields.join(', ')} FROM ${object} WHERE ${lower}SystemModstamp < ${soqlDateTime(to, 'ceil')}`;
}

export class BulkQueryClient {
  constructor(
    private readonly api: ApiClient,
    private readonly apiVersion: string,
    private readonly poll: PollSettings,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  private path(suffix = ''): string {
    return `/services/data/v${this.apiVersion}/jobs/query${suffix}`;
  }

  createJob(query: string, operation: 'query' | 'queryAll'): Promise<BulkJobInfo> {
    return this.api.json('POST', this.path(), {
      body: { operation, query, contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' },
      schema: bulkJobInfo,
    });
  }

  getJob(id: string): Promise<BulkJobInfo> {
    return this.api.json('GET', this.path(`/${encodeURIComponent(id)}`), { schema: bulkJobInfo });
  }

  /** Polls until JobComplete with waits growing ×1.5 from minMs to maxMs. */
  async waitForCompletion(id: string): Promise<BulkJobInfo> {
    const started = Date.now();
    let wait = this.poll.minMs;
    for (;;) {
      const job = await this.getJob(id);
      if (job.state === 'JobComplete') return job;
      if (job.state === 'Failed' || job.state === 'Aborted')
        throw new BulkJobError(
          `bulk query job ${id} ended ${job.state}${job.errorMessage ? `: ${job.errorMessage}` : ''}`,
          'terminal',
          id,
          job.state,
        );
      if (Date.now() - started > this.poll.timeoutMs)
        throw new BulkJobError(
          `bulk query job ${id} still ${job.state} after ${this.poll.timeoutMs} ms`,
          'transient',
          id,
          job.state,
        );
      await this.sleep(wait);
      wait = Math.min(this.poll.maxMs, Math.ceil(wait * 1.5));
    }
  }

  /**
   * Opens one result chunk. The rows must be consumed (or the iterator returned) before the next.
   * `budget`: the chunk's retries, shared with the caller's re-reads of a body cut short.
   */
  async results(
    id: string,
    locator: string | null,
    maxRecords: number,
    budget?: RetryBudget,
  ): Promise<ResultChunk> {
    const res = await this.api.request('GET', this.path(`/${encodeURIComponent(id)}/results`), {
      query: { locator: locator ?? undefined, maxRecords },
      accept: 'text/csv',
      maxBodyBytes: BULK_CHUNK_MAX_BYTES,
      ...(budget ? { budget } : {}),
    });
    const header = res.headers.get('sforce-locator');
    const count = res.headers.get('sforce-numberofrecords');
    const detail = {
      vendor: 'salesforce',
      tenant: this.api.tenant,
      system: this.api.system,
      method: 'GET',
      path: this.path(`/${id}/results`),
    };
    const bad = (what: string, code: string) => {
      void res.body?.cancel().catch(() => {});
      return new ApiError(
        `tenant ${detail.tenant}, system ${detail.system}: bulk results of job ${id} (locator ${locator ?? 'first'}) ${what}`,
        'transient',
        res.status,
        code,
        detail,
      );
    };
    if (!res.body) throw bad('had no body', 'NO_BODY');
    // The last chunk says so with the literal "null": a chunk without the header cannot tell
    // whether more follow, and taking it for the last would move `since` past unread chunks.
    if (header === null || header === '') throw bad('came without a Sforce-Locator header', 'BAD_PAGE');
    if (count !== null && !/^\d+$/.test(count))
      throw bad(`came with Sforce-NumberOfRecords ${JSON.stringify(count)}`, 'BAD_PAGE');
    return {
      next: header === 'null' ? null : header,
      numberOfRecords: count === null ? null : Number(count),
      // Every line is a record: a blank one (Salesforce sends none) must reach the mapper and be
      // dead-lettered, not be skipped and leave the chunk one row short of Sforce-NumberOfRecords.
      rows: parseCsvChunks(res.body as ReadableStream<Uint8Array>, { keepEmpty: true }),
    };
  }
}
