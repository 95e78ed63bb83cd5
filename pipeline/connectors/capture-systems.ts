// Captures several systems of one tenant at once (`trueup sync`): each on its own, so one failing
// never stops the others. A pass kind runs a pass, then (without `once`) another every interval
// until stopped; a continuous kind runs until caught up (`once`) or stopped.
import { sleep } from '../../staging/model/backoff.js';
import type { SystemConfigBase } from '../../staging/model/tenant-config.js';
import type { SyncOptions } from './contract.js';
import { findConnector } from './registry.js';
import { type SyncDeps, syncSystem } from './stream-runner.js';
import type { SyncReport } from './sync-report.js';

export interface CaptureRequest {
  tenant: string;
  /** System name → its loaded config. */
  systems: readonly (readonly [string, SystemConfigBase])[];
  options: SyncOptions;
  once: boolean;
  resnapshot: boolean;
  /** Between passes of a pass kind, without `once`. */
  intervalMs: number;
  signal: AbortSignal;
  /** Each pass's report, as it ends. */
  onReport: (report: SyncReport) => void;
}

/** Runs every system until done; true when any pass or source failed. */
export async function captureSystems(deps: SyncDeps, req: CaptureRequest): Promise<boolean> {
  let failed = false;
  const run = async ([system, config]: readonly [string, SystemConfigBase]) => {
    const continuous = findConnector(config.kind)?.capture.mode === 'continuous';
    for (;;) {
      const report = await syncSystem(deps, req.tenant, system, config, {
        ...req.options,
        once: req.once,
        resnapshot: req.resnapshot,
        signal: req.signal,
      });
      req.onReport(report);
      if (report.status === 'failed') failed = true;
      if (continuous || req.once || req.signal.aborted) return;
      await sleep(req.intervalMs, req.signal);
      if (req.signal.aborted) return;
    }
  };
  await Promise.all(req.systems.map(run));
  return failed;
}
