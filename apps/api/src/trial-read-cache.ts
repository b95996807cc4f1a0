import { trialStateSchema, type TrialState } from '@setrain/protocol';

/** A trial state together with the exact JSON it was read from (for compare-and-set). */
export interface StoredTrial {
  readonly state: TrialState;
  readonly raw: string;
}

/** A sweep's trials hash as last read: its digest and its trials by trial number. */
interface CachedTrials {
  readonly digest: string;
  readonly trials: readonly StoredTrial[];
}

/** How many sweeps' trials a process keeps parsed (a 1,000-trial sweep is about 1 MB of JSON). */
export const TRIAL_READ_CACHE_SWEEPS = 16;

/**
 * The parsed trials of the sweeps this process read last, each under the digest (SHA-1, computed
 * by Redis) of its trials hash as read. A read whose digest is unchanged reuses the parsed states
 * without moving the hash over the network; a changed hash is parsed again only where a trial's
 * JSON changed. Parsed states are frozen: readers share them.
 */
export class TrialReadCache {
  private readonly bySweep = new Map<string, CachedTrials>();

  constructor(private readonly maxSweeps = TRIAL_READ_CACHE_SWEEPS) {}

  /** The digest the sweep's trials were cached under ('' when none). */
  digestOf(sweepId: string): string {
    return this.bySweep.get(sweepId)?.digest ?? '';
  }

  /** The cached trials when `digest` is still the one they were read under. */
  hit(sweepId: string, digest: string): readonly StoredTrial[] | undefined {
    const cached = this.bySweep.get(sweepId);
    if (cached?.digest !== digest) return undefined;
    // Most recently used last (Map order), so eviction drops the least recently used sweep.
    this.bySweep.delete(sweepId);
    this.bySweep.set(sweepId, cached);
    return cached.trials;
  }

  /** Parses the hash's values (reusing unchanged trials), caches them under `digest`. */
  store(sweepId: string, digest: string, raws: readonly string[]): readonly StoredTrial[] {
    const previous = new Map<string, StoredTrial>();
    for (const trial of this.bySweep.get(sweepId)?.trials ?? []) previous.set(trial.raw, trial);
    const trials = raws
      .map((raw) => previous.get(raw) ?? { raw, state: frozen(parseTrial(raw)) })
      .sort((a, b) => a.state.trialNumber - b.state.trialNumber);
    this.bySweep.delete(sweepId);
    this.bySweep.set(sweepId, { digest, trials });
    for (const oldest of this.bySweep.keys()) {
      if (this.bySweep.size <= this.maxSweeps) break;
      this.bySweep.delete(oldest);
    }
    return trials;
  }

  forget(sweepId: string): void {
    this.bySweep.delete(sweepId);
  }
}

export function parseTrial(raw: string): TrialState {
  return trialStateSchema.parse(JSON.parse(raw));
}

/** The state and its nested objects frozen, so a reader cannot change what others share. */
function frozen(state: TrialState): TrialState {
  for (const value of Object.values(state)) {
    if (typeof value === 'object' && value !== null) Object.freeze(value);
  }
  return Object.freeze(state);
}
