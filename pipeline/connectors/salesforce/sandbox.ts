// A local Salesforce that speaks the parts of the REST API trueup uses, over seeded, stateful
// data; every behaviour is a line of WIRE.md: Bulk API 2.0 query jobs (create → UploadComplete →
// InProgress → JobComplete, results by Sforce-Locator with maxRecords and Sforce-NumberOfRecords,
// the last locator the literal "null"), SOQL datetime literals in whole seconds, query vs queryAll
// (IsDeleted; deleted rows purged from the recycle bin after `recycleBinRetentionMs`), composite
// upsert by an External ID field with per-record results (a malformed call is one 400), describe,
// record update/delete, bearer auth (401 INVALID_SESSION_ID), `Sforce-Limit-Info` on every
// response, and fault injection with Salesforce's own error bodies: both the 24-hour allocation
// and the concurrent long-running limit answer 403 REQUEST_LIMIT_EXCEEDED, told apart by message.
import {
  type FaultConfig,
  prng,
  type SandboxRequest,
  type SandboxResponse,
  SandboxServer,
} from '../http/sandbox-server.js';
import { compositeUpsert, describe } from './sandbox-composite.js';
import { type SalesforceSeed, type SfRow, syntheticSalesforceSeed } from './sandbox-data.js';
import { quoteCsv, renderRow, SeededRowCache } from './sandbox-render.js';
import { retrieveByExternalId } from './sandbox-retrieve.js';
import { parseSoql, SoqlError, type SoqlQuery } from './sandbox-soql.js';
import { type Entry, type ObjectStore, SalesforceStore, SalesforceWriteError } from './sandbox-store.js';

export interface SalesforceSandboxOptions {
  seed?: SalesforceSeed;
  /** Accepted bearer tokens (default ["sandbox-token"]); [] disables the check. */
  tokens?: string[];
  faults?: FaultConfig;
  /** Polls a job answers InProgress before it is JobComplete. */
  pollsUntilComplete?: number;
  /** Results chunk size when the client sends no maxRecords. */
  defaultMaxRecords?: number;
  /** Probability that a results body is cut off half-way (connection drop mid-stream). */
  midStreamDropRate?: number;
  /** Probability that a results body ends half-way as if complete (a proxy closing it cleanly). */
  cleanCutRate?: number;
  /** Leave out the Sforce-NumberOfRecords header (it is not always sent). */
  omitNumberOfRecords?: boolean;
  /** The daily API limit reported in Sforce-Limit-Info (enforce one with faults.dailyLimit). */
  dailyApiLimit?: number;
  /** Bytes of rendered seeded CSV kept for later reads (default 256 MiB; 0 renders every read). */
  renderCacheBytes?: number;
  clock?: () => number;
  /** Deleted records leave the recycle bin (and queryAll) this long after deletion (default 15 days). */
  recycleBinRetentionMs?: number;
  /** Keep every exchange (contract tests). */
  record?: boolean;
}

const RECYCLE_BIN_DAYS = 15;

interface Job {
  id: string;
  operation: 'query' | 'queryAll';
  query: SoqlQuery;
  apiVersion: string;
  state: 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  polls: number;
  createdDate: string;
  entries?: Entry[];
}

const err = (status: number, errorCode: string, message: string): SandboxResponse => ({
  status,
  body: [{ message, errorCode }],
});

export class SalesforceSandbox {
  readonly store: SalesforceStore;
  readonly server: SandboxServer;
  private readonly jobs = new Map<string, Job>();
  private jobCounter = 0;
  private readonly malformed = new Set<string>();
  private readonly random: () => number;
  private readonly rendered: SeededRowCache;
  /** Result bodies cut half-way by fault injection. */
  midStreamDrops = 0;
  /** Result bodies ended half-way without an error by fault injection. */
  cleanCuts = 0;
  /** Records served in query results (rows of result chunks), for tests of what a read asked for. */
  recordsServed = 0;
  url = '';

  constructor(private readonly opts: SalesforceSandboxOptions = {}) {
    this.store = new SalesforceStore(opts.seed ?? syntheticSalesforceSeed({ seed: 1 }), opts.clock);
    this.random = prng((opts.faults?.seed ?? 1) + 17);
    this.rendered = new SeededRowCache(opts.renderCacheBytes);
    const limitInfo = () => ({
      'sforce-limit-info': `api-usage=${this.server.counters.requests}/${opts.dailyApiLimit ?? opts.faults?.dailyLimit ?? 15000}`,
    });
    this.server = new SandboxServer({
      tokens: opts.tokens ?? ['sandbox-token'],
      ...(opts.faults ? { faults: opts.faults } : {}),
      ...(opts.record ? { record: true } : {}),
      vendor: {
        // Salesforce does not use 429: the concurrent long-running request limit is a 403 too.
        rateLimited: () => ({
          ...err(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.'),
          headers: limitInfo(),
        }),
        dailyLimited: () => ({
          ...err(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'),
          headers: limitInfo(),
        }),
        serverError: () => ({
          ...err(503, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable'),
          headers: limitInfo(),
        }),
        unauthorized: () => err(401, 'INVALID_SESSION_ID', 'Session expired or invalid'),
      },
    });
    const route = (
      method: string,
      path: string,
      h: (req: SandboxRequest, p: Record<string, string>) => SandboxResponse,
    ) =>
      this.server.route(method, `/services/data/:version${path}`, (req, p) => {
        let out: SandboxResponse;
        try {
          if (!/^v\d+\.\d$/.test(p.version ?? ''))
            out = err(404, 'NOT_FOUND', 'The requested resource does not exist');
          else out = h(req, p);
        } catch (e) {
          if (e instanceof SalesforceWriteError) out = err(400, e.errorCode, e.message);
          else if (e instanceof SoqlError) out = err(400, 'MALFORMED_QUERY', e.message);
          else throw e;
        }
        return { ...out, headers: { ...out.headers, ...limitInfo() } };
      });
    route('GET', '/limits', () => {
      const max = opts.dailyApiLimit ?? opts.faults?.dailyLimit ?? 15000;
      const remaining = Math.max(0, max - this.server.counters.requests);
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: max, Remaining: remaining },
          DailyBulkV2QueryJobs: { Max: 10000, Remaining: 10000 - this.jobCounter },
        },
      };
    });
    route('POST', '/jobs/query', (req, p) => this.createJob(req, p.version!));
    route('GET', '/jobs/query/:id', (_req, p) => this.getJob(p.id!));
    route('DELETE', '/jobs/query/:id', (_req, p) => {
      if (!this.jobs.delete(p.id!)) return err(404, 'NOT_FOUND', 'The requested resource does not exist');
      return { status: 204 };
    });
    route('GET', '/jobs/query/:id/results', (req, p) => this.results(req, p.id!, p.version!));
    route('PATCH', '/composite/sobjects/:sobject/:field', (req, p) =>
      compositeUpsert(this.store, req, p.sobject!, p.field!),
    );
    route('GET', '/sobjects/:sobject/describe', (_req, p) => ({
      status: 200,
      body: describe(this.store, p.sobject!),
    }));
    route('GET', '/sobjects/:sobject/:field/:value', (req, p) =>
      retrieveByExternalId(this.store, req, {
        version: p.version!,
        sobject: p.sobject!,
        field: p.field!,
        value: p.value!,
      }),
    );
    route('PATCH', '/sobjects/:sobject/:id', (req, p) => {
      this.store.update(p.sobject!, p.id!, req.json());
      return { status: 204 };
    });
    route('DELETE', '/sobjects/:sobject/:id', (_req, p) => {
      this.store.delete(p.sobject!, p.id!);
      return { status: 204 };
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.url = await this.server.listen(port, host);
    return this.url;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  // ── data access for tests and the demo ──

  insert(sobject: string, fields: Record<string, string>): SfRow {
    return this.store.insert(sobject, fields);
  }
  update(sobject: string, id: string, fields: Record<string, string>): SfRow {
    return this.store.update(sobject, id, fields);
  }
  delete(sobject: string, id: string): void {
    this.store.delete(sobject, id);
  }
  get(sobject: string, id: string): SfRow | undefined {
    this.purgeRecycleBin();
    return this.store.object(sobject).get(id);
  }
  /** Every record of an object as it is now (the ground truth a full load must equal). */
  *rows(sobject: string, opts: { includeDeleted?: boolean } = {}): Generator<SfRow> {
    this.purgeRecycleBin();
    const o = this.store.object(sobject);
    for (const e of o.entries()) {
      const r = o.row(e);
      if (opts.includeDeleted || r.IsDeleted !== 'true') yield r;
    }
  }
  /** Makes this record come out of query results as a malformed CSV row (an extra cell). */
  corrupt(id: string): void {
    this.malformed.add(id);
  }

  // ── Bulk API 2.0 ──

  private createJob(req: SandboxRequest, version: string): SandboxResponse {
    const body = req.json<{ operation?: string; query?: string; contentType?: string }>();
    if (body.operation !== 'query' && body.operation !== 'queryAll')
      return err(400, 'INVALIDJOB', `operation must be query or queryAll, got ${body.operation}`);
    if (body.contentType && body.contentType !== 'CSV')
      return err(400, 'INVALIDJOB', 'contentType must be CSV');
    const query = parseSoql(body.query ?? '');
    const o = this.store.object(query.object);
    const known = new Set(o.fields);
    for (const f of [...query.fields, ...query.where.map((w) => w.field)])
      if (!known.has(f))
        return err(400, 'INVALID_FIELD', `No such column '${f}' on entity '${query.object}'.`);
    const id = `750${String(++this.jobCounter).padStart(15, '0')}`;
    const job: Job = {
      id,
      operation: body.operation,
      query,
      apiVersion: version.slice(1),
      state: 'UploadComplete',
      polls: 0,
      createdDate: new Date().toISOString(),
    };
    this.jobs.set(id, job);
    return { status: 200, body: this.describe(job) };
  }

  private getJob(id: string): SandboxResponse {
    const job = this.jobs.get(id);
    if (!job) return err(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (job.state === 'UploadComplete' || job.state === 'InProgress') {
      job.polls++;
      if (job.polls > (this.opts.pollsUntilComplete ?? 1)) this.complete(job);
      else job.state = 'InProgress';
    }
    return { status: 200, body: this.describe(job) };
  }

  /** Records deleted longer ago than the retention leave the recycle bin, and queryAll with it. */
  private purgeRecycleBin(): void {
    this.store.purgeRecycleBin(this.opts.recycleBinRetentionMs ?? RECYCLE_BIN_DAYS * 86_400_000);
  }

  /** The snapshot is taken when the job completes, as Salesforce does. */
  private complete(job: Job): void {
    this.purgeRecycleBin();
    const o = this.store.object(job.query.object);
    const test = o.predicate(job.query.where, job.operation === 'queryAll');
    const entries: Entry[] = [];
    for (const e of o.entries()) if (test(e)) entries.push(e);
    if (job.query.orderBy) {
      const { field, desc } = job.query.orderBy;
      entries.sort((a, b) => {
        const x = o.row(a)[field] ?? '';
        const y = o.row(b)[field] ?? '';
        return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
      });
    }
    job.entries = job.query.limit !== undefined ? entries.slice(0, job.query.limit) : entries;
    job.state = 'JobComplete';
  }

  private describe(job: Job) {
    return {
      id: job.id,
      operation: job.operation,
      object: job.query.object,
      createdById: '005000000000000001',
      createdDate: job.createdDate,
      systemModstamp: job.createdDate,
      state: job.state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      lineEnding: 'LF',
      columnDelimiter: 'COMMA',
      ...(job.entries
        ? { numberRecordsProcessed: job.entries.length, retries: 0, totalProcessingTime: 1 }
        : {}),
    };
  }

  private results(req: SandboxRequest, id: string, version: string): SandboxResponse {
    const job = this.jobs.get(id);
    if (!job) return err(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (job.apiVersion !== version.slice(1))
      return err(409, 'API_VERSION_MISMATCH', `job ${id} was created with API version ${job.apiVersion}`);
    if (job.state !== 'JobComplete' || !job.entries)
      return err(400, 'JOB_NOT_COMPLETE', `job ${id} is ${job.state}`);
    const locator = req.url.searchParams.get('locator');
    let offset = 0;
    if (locator) {
      offset = Number(Buffer.from(locator, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0 || offset > job.entries.length)
        return err(400, 'INVALID_LOCATOR', `invalid locator: ${locator}`);
    }
    const max = Number(req.url.searchParams.get('maxRecords') ?? this.opts.defaultMaxRecords ?? 10_000);
    if (!Number.isInteger(max) || max < 1)
      return err(400, 'INVALID_MAX_RECORDS', 'maxRecords must be a positive integer');
    const end = Math.min(job.entries.length, offset + max);
    const next = end < job.entries.length ? Buffer.from(String(end)).toString('base64url') : 'null';
    const drop = this.random() < (this.opts.midStreamDropRate ?? 0);
    if (drop) this.midStreamDrops++;
    const cut = !drop && !!this.opts.cleanCutRate && this.random() < this.opts.cleanCutRate;
    if (cut) this.cleanCuts++;
    this.recordsServed += end - offset;
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv',
        ...(this.opts.omitNumberOfRecords ? {} : { 'sforce-numberofrecords': String(end - offset) }),
        'sforce-locator': next,
      },
      stream: this.csv(
        this.store.object(job.query.object),
        job.query.fields,
        job.entries,
        offset,
        end,
        drop ? 'drop' : cut ? 'clean' : null,
      ),
    };
  }

  private async *csv(
    o: ObjectStore,
    fields: readonly string[],
    entries: readonly Entry[],
    from: number,
    to: number,
    cut: 'drop' | 'clean' | null,
  ): AsyncGenerator<string | Buffer> {
    yield `${fields.map(quoteCsv).join(',')}\n`;
    const cutAt = cut ? from + Math.floor((to - from) / 2) : -1;
    // Corrupted records are rendered one by one (they never come from the cache).
    const cached = this.malformed.size === 0;
    let piece = '';
    for (let i = from; i < to; ) {
      if (i === cutAt) {
        yield piece;
        // A clean cut ends the body on a line boundary, as if the chunk were complete.
        if (cut === 'clean') return;
        throw new Error('connection dropped mid-stream (fault injection)');
      }
      const e = entries[i]!;
      if (cached && typeof e === 'number') {
        // A run of consecutive seeded records: pre-rendered slices.
        let j = i + 1;
        while (j < to && j !== cutAt && entries[j] === e + (j - i)) j++;
        if (piece) yield piece;
        piece = '';
        yield* this.rendered.lines(o, fields, e, e + (j - i));
        i = j;
        continue;
      }
      const r = o.row(e);
      let line = renderRow(r, fields);
      if (this.malformed.has(r.Id!)) line = `${line.slice(0, -1)},"unexpected"\n`;
      piece += line;
      if (piece.length > 64 * 1024) {
        yield piece;
        piece = '';
      }
      i++;
    }
    if (piece) yield piece;
  }
}
