import { sweepRecordSchema, type SweepRecord } from './sweep-record.js';

/** How many sweeps' records a process keeps parsed (a record is a few KB: its spec and best). */
export const SWEEP_RECORD_CACHE_SWEEPS = 64;

/**
 * The sweep records this process read or wrote last, each under the exact JSON stored for it, so
 * that a record is parsed (JSON and the spec's schema) once per write instead of on every read:
 * the controller reads its sweep's record at every advance, and the JSON only changes when someone
 * writes it. Records are deep-frozen: readers share them.
 */
export class SweepRecordCache {
  private readonly bySweep = new Map<string, { raw: string; record: SweepRecord }>();

  constructor(private readonly maxSweeps = SWEEP_RECORD_CACHE_SWEEPS) {}

  /** The record stored as `raw`: the cached one when `raw` is what it was cached under. */
  parse(sweepId: string, raw: string): SweepRecord {
    const cached = this.bySweep.get(sweepId);
    if (cached?.raw === raw) return cached.record;
    const record = sweepRecordSchema.parse(JSON.parse(raw));
    this.remember(sweepId, raw, record);
    return record;
  }

  /** Remembers `record` as stored under `raw` (what this process just wrote). */
  remember(sweepId: string, raw: string, record: SweepRecord): void {
    this.bySweep.delete(sweepId);
    this.bySweep.set(sweepId, { raw, record: deepFrozen(record) });
    for (const oldest of this.bySweep.keys()) {
      if (this.bySweep.size <= this.maxSweeps) break;
      this.bySweep.delete(oldest);
    }
  }

  forget(sweepId: string): void {
    this.bySweep.delete(sweepId);
  }
}

/** `value` with every object and array in it frozen (a shared record must not change). */
function deepFrozen<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFrozen(child);
  return Object.freeze(value);
}
