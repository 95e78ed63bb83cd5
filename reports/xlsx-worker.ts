// The worker-thread side of writeXlsxOffThread (xlsx-thread.ts): writes one workbook and ends. A
// failure rejects the top-level await, which the main side receives as the worker's error.
import { workerData } from 'node:worker_threads';
import { writeXlsx } from './write-xlsx.js';
import type { XlsxJob } from './xlsx-thread.js';

const job = workerData as XlsxJob;
await writeXlsx(job.file, job.data, job.summary);
