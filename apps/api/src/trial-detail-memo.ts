import { parseTrial } from './trial-read-cache.js';
import { parseEpoch, type TrialRaws } from './sweep-store.js';
import { trialDetailJson } from './trial-detail-json.js';

/** How many trials' status documents an API process keeps (a few KB each). */
export const DEFAULT_TRIAL_DETAIL_MEMO_TRIALS = 1024;

interface MemoEntry {
  readonly state: string;
  readonly epochs: readonly string[];
  readonly json: string;
}

/**
 * `GET /v1/trials/:id`'s body per trial, kept with the JSON it was built from. Every read still
 * fetches the trial's state and epoch rows from Redis; when they equal the kept ones (string
 * equality, so never stale) the body is reused instead of parsed, built and serialised again. A
 * polled running trial changes once per epoch, so most polls hit. Least recently used trials go
 * first past `maxTrials`.
 */
export class TrialDetailMemo {
  private readonly byTrial = new Map<string, MemoEntry>();
  /** Reads answered from the memo, and reads that built the body. */
  readonly counts = { reused: 0, built: 0 };

  constructor(private readonly maxTrials = DEFAULT_TRIAL_DETAIL_MEMO_TRIALS) {}

  /** The trial's body from its stored JSON (`raws.state` must be defined). */
  detailJson(sweepId: string, trialId: string, raws: TrialRaws & { state: string }): string {
    const kept = this.byTrial.get(trialId);
    this.byTrial.delete(trialId);
    if (kept !== undefined && kept.state === raws.state && sameRows(kept.epochs, raws.epochs)) {
      this.byTrial.set(trialId, kept); // most recently used last (Map order)
      this.counts.reused += 1;
      return kept.json;
    }
    const json = trialDetailJson(sweepId, parseTrial(raws.state), raws.epochs.map(parseEpoch));
    this.counts.built += 1;
    this.byTrial.set(trialId, { state: raws.state, epochs: raws.epochs, json });
    for (const oldest of this.byTrial.keys()) {
      if (this.byTrial.size <= this.maxTrials) break;
      this.byTrial.delete(oldest);
    }
    return json;
  }

  get size(): number {
    return this.byTrial.size;
  }
}

function sameRows(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((row, i) => row === b[i]);
}
