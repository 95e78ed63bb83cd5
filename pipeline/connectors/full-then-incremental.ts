// Where a stream that loads in full, then reads incrementally, starts from its checkpoint. Shared
// by the HubSpot and NetSuite streams (whose checkpoints say which phase they are in).

export type CaptureMode = 'auto' | 'full' | 'incremental';

export interface PhasedStart<P> {
  position: P;
  mode: 'full' | 'incremental';
  /**
   * An incremental run that found the full load unfinished: it finishes the load, then goes on
   * incrementally from the load's watermark, so what changed while the load was stopped is
   * captured by this run too.
   */
  thenIncremental: boolean;
}

/**
 * A full load (`fresh`) without a checkpoint, with mode `full`, or with a checkpoint of an older
 * format; otherwise the checkpoint. A full load's checkpoint (the process stopped mid-way)
 * resumes that load in every mode: reading from its watermark instead would never stage the
 * records the load had not reached, whose stamps are older than the watermark.
 */
export function phasedStart<P extends { phase?: 'full' | 'incremental' }>(
  saved: P | null | undefined,
  mode: CaptureMode,
  fresh: () => P,
): PhasedStart<P> {
  const position = mode === 'full' || !saved || saved.phase === undefined ? fresh() : saved;
  return {
    position,
    mode: position.phase === 'full' ? 'full' : 'incremental',
    thenIncremental: mode === 'incremental' && saved?.phase === 'full',
  };
}
