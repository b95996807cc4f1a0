import { parseEpoch, type TrialRaws } from './sweep-store.js';
import { trialDetailJson } from './trial-detail-json.js';
import { parseTrial } from './trial-read-cache.js';

/** How many trials' status documents an API process keeps at most. */
export const DEFAULT_TRIAL_DETAIL_MEMO_TRIALS = 256;
/**
 * The memo's budget in characters of JSON (one byte each for ASCII, as V8 stores them): a trial is
 * a few KB, but one with thousands of epochs is megabytes, and the budget, not the count, bounds
 * the memory then. A trial over an eighth of it is not kept.
 */
export const DEFAULT_TRIAL_DETAIL_MEMO_CHARS = 32 * 1024 * 1024;

/** Limits of a TrialDetailMemo. */
export interface TrialDetailMemoOptions {
  /** Trials kept at most; default DEFAULT_TRIAL_DETAIL_MEMO_TRIALS. */
  readonly maxTrials?: number;
  /** Characters of JSON kept at most (stored and built); default DEFAULT_TRIAL_DETAIL_MEMO_CHARS. */
  readonly maxChars?: number;
}

interface MemoEntry {
  readonly state: string;
  readonly epochs: readonly string[];
  readonly json: string;
  readonly chars: number;
}

/**
 * `GET /v1/trials/:id`'s body per trial, kept with the JSON it was built from. Every read still
 * fetches the trial's state and epoch rows from Redis; when they equal the kept ones (string
 * equality, so never stale) the body is reused instead of parsed, built and serialised again. A
 * polled running trial changes once per epoch, so most polls hit. Least recently read trials go
 * first past either limit.
 */
export class TrialDetailMemo {
  private readonly byTrial = new Map<string, MemoEntry>();
  private readonly maxTrials: number;
  private readonly maxChars: number;
  private chars = 0;
  /** Reads answered from the memo, and reads that built the body. */
  readonly counts = { reused: 0, built: 0 };

  constructor(options: TrialDetailMemoOptions = {}) {
    this.maxTrials = options.maxTrials ?? DEFAULT_TRIAL_DETAIL_MEMO_TRIALS;
    this.maxChars = options.maxChars ?? DEFAULT_TRIAL_DETAIL_MEMO_CHARS;
  }

  /** The trial's body from its stored JSON (`raws.state` must be defined). */
  detailJson(sweepId: string, trialId: string, raws: TrialRaws & { state: string }): string {
    const kept = this.take(trialId);
    if (kept !== undefined && kept.state === raws.state && sameRows(kept.epochs, raws.epochs)) {
      this.keep(trialId, kept);
      this.counts.reused += 1;
      return kept.json;
    }
    const json = trialDetailJson(sweepId, parseTrial(raws.state), raws.epochs.map(parseEpoch));
    this.counts.built += 1;
    const chars = raws.state.length + json.length + raws.epochs.reduce((n, r) => n + r.length, 0);
    if (chars <= this.maxChars / 8) this.keep(trialId, { ...raws, json, chars });
    return json;
  }

  get size(): number {
    return this.byTrial.size;
  }

  /** Characters of JSON kept now. */
  get keptChars(): number {
    return this.chars;
  }

  private take(trialId: string): MemoEntry | undefined {
    const entry = this.byTrial.get(trialId);
    if (entry === undefined) return undefined;
    this.byTrial.delete(trialId);
    this.chars -= entry.chars;
    return entry;
  }

  /** Keeps `entry` as the most recently read (Map order), dropping the least recent past a limit. */
  private keep(trialId: string, entry: MemoEntry): void {
    this.byTrial.set(trialId, entry);
    this.chars += entry.chars;
    for (const [oldest, dropped] of this.byTrial) {
      if (this.byTrial.size <= this.maxTrials && this.chars <= this.maxChars) break;
      this.byTrial.delete(oldest);
      this.chars -= dropped.chars;
    }
  }
}

function sameRows(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((row, i) => row === b[i]);
}
