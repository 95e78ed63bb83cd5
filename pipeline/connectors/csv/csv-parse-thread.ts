// fast-csv on a worker thread, so that parsing a large CSV body (Salesforce Bulk results, dropped files) runs
// beside the main thread's mapping and staging instead of taking turns with it. The main thread
// sends the bytes as they arrive and gets rows back in groups (string[][], structured clone:
// cheap next to the parse itself); parseCsvChunks (parse-csv-stream.ts) is the only user and
// owns the flow control. Threads are kept for the next parse when one ends cleanly (starting
// one and loading fast-csv costs ~60 ms, a result chunk may hold only a few rows), unref'd while
// idle so they never keep the process alive; a thread whose parse failed or was abandoned is
// terminated.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** main → thread. `start` begins a parse; `data` bytes of it; `end` the end of its input. */
export type ToParseThread =
  | { type: 'start'; options: Record<string, unknown>; groupSize: number }
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'end' };

/** thread → main: a group of rows, bytes taken by the parser (flow control), the end, a parse error. */
export type FromParseThread =
  | { type: 'rows'; rows: string[][] }
  | { type: 'ack'; bytes: number }
  | { type: 'done' }
  | { type: 'error'; message: string };

/**
 * The thread's body. It runs from its own source text (`new Worker(source, {eval: true})`), so it
 * must use nothing from this module's scope: that way the same code runs from dist/ and from
 * the TypeScript sources under vitest. fast-csv is loaded from the path the main thread resolved.
 */
export function parseThreadMain(): void {
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { parse } = require(workerData.fastCsv) as typeof import('fast-csv');
  const port = parentPort!;
  let parser: ReturnType<typeof parse> | undefined;
  port.on('message', (m: ToParseThread) => {
    if (m.type === 'start') {
      const groupSize = m.groupSize;
      let group: string[][] = [];
      parser = parse(m.options);
      parser.on('data', (row: string[]) => {
        group.push(row);
        if (group.length >= groupSize) {
          port.postMessage({ type: 'rows', rows: group });
          group = [];
        }
      });
      parser.on('end', () => {
        if (group.length) port.postMessage({ type: 'rows', rows: group });
        group = [];
        port.postMessage({ type: 'done' });
      });
      parser.on('error', (err: Error) => {
        // The rows parsed before the error go first: a caller stages what came before it.
        if (group.length) port.postMessage({ type: 'rows', rows: group });
        group = [];
        port.postMessage({ type: 'error', message: err.message });
      });
    } else if (m.type === 'data') {
      const n = m.bytes.byteLength;
      // Acknowledged once parsed: the main thread sends more only while few bytes wait here.
      parser!.write(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, n), () =>
        port.postMessage({ type: 'ack', bytes: n }),
      );
    } else parser!.end();
  });
}

const FAST_CSV = createRequire(import.meta.url).resolve('fast-csv');
const SOURCE = `(${parseThreadMain.toString()})()`;
/** Idle threads kept for the next parse (two extractions may parse at once). */
const MAX_IDLE = 2;
const idle: ParseThread[] = [];

/** One parse thread; `listener` receives the messages and failures of the parse it serves. */
export class ParseThread {
  private readonly worker: Worker;
  private listener: ((m: FromParseThread | { type: 'failed'; err: Error }) => void) | undefined;
  private dead = false;

  private constructor() {
    this.worker = new Worker(SOURCE, { eval: true, workerData: { fastCsv: FAST_CSV } });
    this.worker.on('message', (m: FromParseThread) => this.listener?.(m));
    // A thread that throws or exits on its own is never reused; its parse (if any) fails.
    const fail = (err: Error) => {
      this.dead = true;
      const at = idle.indexOf(this);
      if (at >= 0) idle.splice(at, 1);
      this.listener?.({ type: 'failed', err });
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`CSV parse thread exited with code ${code}`)));
  }

  /** An idle thread, or a new one, serving `listener` until release() or terminate(). */
  static take(listener: NonNullable<ParseThread['listener']>): ParseThread {
    const thread = idle.pop() ?? new ParseThread();
    thread.listener = listener;
    thread.worker.ref();
    return thread;
  }

  post(m: ToParseThread, transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.worker.postMessage(m, transfer);
  }

  /** After a parse that ended with `done`: keep the thread for the next parse. */
  release(): void {
    this.listener = undefined;
    if (this.dead) return;
    if (idle.length < MAX_IDLE) {
      this.worker.unref();
      idle.push(this);
    } else void this.worker.terminate();
  }

  /** After a failed or abandoned parse: the thread may hold a half-parsed input. */
  terminate(): void {
    this.listener = undefined;
    this.dead = true;
    void this.worker.terminate();
  }
}
