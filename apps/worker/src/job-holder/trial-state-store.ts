import type { Redis } from 'ioredis';
import {
  redisKeys,
  trialStateSchema,
  type AttemptLogEntry,
  type EpochMetrics,
  type TrialPayload,
  type TrialState,
} from '@setrain/protocol';

import { retryInfrastructure, type RetryOptions } from './retry.js';

/**
 * Sets a hash field only if it still holds what the caller believes ('' = absent): {1} when
 * written, else {0} (absent) or {0, current}, so a failed compare-and-set costs no extra read.
 */
const HASH_CAS = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then
  if current then return {0, current} end
  return {0}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {1}`;

/** Appends an epoch unless the list already ends at that epoch or later (a retried append). */
const APPEND_EPOCH = `
local last = redis.call('LINDEX', KEYS[1], -1)
if last then
  local ok, decoded = pcall(cjson.decode, last)
  if ok and type(decoded) == 'table' and tonumber(decoded.epoch) and tonumber(decoded.epoch) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1`;

/** Concurrent writers (controller, another worker) a single update outlasts before it gives up. */
const MAX_CAS_TRIES = 20;

/** Trial states this store remembers as last read or written (one per trial a worker held lately). */
const KNOWN_STATES_MAX = 8;

/** What Redis holds for a trial: its JSON, and its state when that parses. */
interface Seen {
  readonly raw: string;
  readonly state: TrialState | undefined;
}

/** A patch, or a function of the current state that returns one. */
export type TrialStatePatch = Partial<TrialState> | ((current: TrialState) => Partial<TrialState>);

/**
 * The worker's writes to a trial's live state in Redis: the TrialState in the sweep's trials hash
 * and the trial's list of epoch metrics. Updates are compare-and-set (a concurrent write by the
 * controller is never overwritten with stale fields), and every write retries with backoff while
 * Redis is unreachable.
 *
 * The store remembers the JSON it last read or wrote for each trial and compares against that: an
 * update is one round trip while nobody else wrote the trial, and a stale guess costs nothing
 * extra (the failed compare returns what is stored). A remembered state is parsed once.
 */
export class TrialStateStore {
  private readonly keys: ReturnType<typeof redisKeys>;
  /** By trial id: the JSON last seen in Redis (read or written here) and its state. */
  private readonly known = new Map<string, Seen>();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly retry: RetryOptions = {},
  ) {
    this.keys = redisKeys(prefix);
  }

  async get(sweepId: string, trialId: string): Promise<TrialState | undefined> {
    const raw = await this.redis.hget(this.keys.sweepTrials(sweepId), trialId);
    return this.remember(trialId, raw)?.state;
  }

  /** Merges `patch` into the trial's state (created from the payload if absent), atomically. */
  update(payload: TrialPayload, patch: TrialStatePatch): Promise<TrialState> {
    return retryInfrastructure(() => this.compareAndSet(payload, patch, false), this.retry);
  }

  /**
   * update(), but nothing is sent when the patch leaves the state as this store last saw it. Only
   * for fields that no one but the worker holding the trial's job writes while it holds it (its
   * progress: epochs, objective, checkpoints), so what this store saw last is what Redis holds for
   * them.
   */
  updateIfChanged(payload: TrialPayload, patch: TrialStatePatch): Promise<TrialState> {
    return retryInfrastructure(() => this.compareAndSet(payload, patch, true), this.retry);
  }

  private async compareAndSet(
    payload: TrialPayload,
    patch: TrialStatePatch,
    skipUnchanged: boolean,
  ): Promise<TrialState> {
    const key = this.keys.sweepTrials(payload.sweepId);
    let seen: Seen | undefined = this.known.get(payload.trialId);
    if (seen === undefined) {
      seen = this.remember(payload.trialId, await this.redis.hget(key, payload.trialId));
    }
    for (let tries = 0; tries < MAX_CAS_TRIES; tries++) {
      const current = seen?.state ?? initialState(payload);
      const changes = typeof patch === 'function' ? patch(current) : patch;
      // Fields set to undefined in the patch are removed (e.g. a stale reason).
      const merged = Object.entries({ ...current, ...changes }).filter(([, v]) => v !== undefined);
      const next = trialStateSchema.parse(Object.fromEntries(merged));
      const raw = JSON.stringify(next);
      if (skipUnchanged && seen?.state !== undefined && raw === seen.raw) return seen.state;
      const [written, stored] = (await this.redis.eval(
        HASH_CAS,
        1,
        key,
        payload.trialId,
        seen?.raw ?? '',
        raw,
      )) as [number, string?]; // HASH_CAS returns {1}, {0} or {0, current}
      if (written === 1) {
        this.keep(payload.trialId, { raw, state: next });
        return next;
      }
      seen = this.remember(payload.trialId, stored ?? null);
    }
    this.known.delete(payload.trialId);
    throw new Error(
      `trial state of ${payload.trialId} changed under ${MAX_CAS_TRIES} updates in a row; giving up`,
    );
  }

  /**
   * Remembers what Redis holds for the trial (`raw`; null when absent: undefined). A state that
   * does not parse is returned with its JSON (an update compares against it and overwrites it) but
   * not remembered.
   */
  private remember(trialId: string, raw: string | null): Seen | undefined {
    this.known.delete(trialId);
    if (raw === null) return undefined;
    const state = parseState(raw);
    if (state === undefined) return { raw, state };
    this.keep(trialId, { raw, state });
    return { raw, state };
  }

  /** Remembers `seen` as the trial's latest (dropping the least recently seen beyond the bound). */
  private keep(trialId: string, seen: Seen): void {
    this.known.delete(trialId);
    this.known.set(trialId, seen);
    for (const old of this.known.keys()) {
      if (this.known.size <= KNOWN_STATES_MAX) break;
      this.known.delete(old);
    }
  }

  /**
   * Opens an attempt by this worker in the trial's attempts log and marks the trial running. An
   * earlier attempt still open never recorded its end (its worker lost the job's lock or died):
   * it is closed `stalled` here.
   */
  startAttempt(
    payload: TrialPayload,
    attempt: { attempt: number; workerId: string; startedAt: string },
  ): Promise<TrialState> {
    return this.update(payload, (current) => ({
      status: 'running',
      workerId: attempt.workerId,
      startedAt: attempt.startedAt,
      attempts: attempt.attempt,
      reason: undefined,
      attemptsLog: [...closeStalled(current.attemptsLog ?? [], attempt.startedAt), { ...attempt }],
    }));
  }

  /** Closes this worker's open attempt with its outcome, along with other changes. */
  endAttempt(
    payload: TrialPayload,
    workerId: string,
    end: Pick<AttemptLogEntry, 'outcome' | 'reason'>,
    changes: Partial<TrialState> = {},
  ): Promise<TrialState> {
    return this.update(payload, (current) => ({
      ...changes,
      attemptsLog: closeAttempt(current.attemptsLog ?? [], workerId, end),
    }));
  }

  /** Replaces the trial's epoch list with `history` (a resumed trial keeps only its checkpoint's epochs). */
  resetEpochs(trialId: string, history: readonly EpochMetrics[]): Promise<void> {
    const key = this.keys.trialEpochs(trialId);
    return retryInfrastructure(async () => {
      if (history.length === 0) {
        await this.redis.del(key); // one command: no transaction needed
        return;
      }
      await this.redis
        .multi()
        .del(key)
        .rpush(key, ...history.map((m) => JSON.stringify(m)))
        .exec();
    }, this.retry);
  }

  /** Appends one epoch's metrics; a retried append of the same epoch is not duplicated. */
  async appendEpoch(trialId: string, metrics: EpochMetrics): Promise<void> {
    const key = this.keys.trialEpochs(trialId);
    await retryInfrastructure(
      () => this.redis.eval(APPEND_EPOCH, 1, key, JSON.stringify(metrics), String(metrics.epoch)),
      this.retry,
    );
  }

  async epochs(trialId: string): Promise<EpochMetrics[]> {
    const raw = await this.redis.lrange(this.keys.trialEpochs(trialId), 0, -1);
    return raw.map((line) => JSON.parse(line) as EpochMetrics);
  }
}

function parseState(raw: string | null): TrialState | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = trialStateSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function initialState(payload: TrialPayload): TrialState {
  return {
    trialId: payload.trialId,
    trialNumber: payload.trialNumber,
    status: 'queued',
    params: payload.params,
    epochsCompleted: 0,
    objectiveValue: null,
    attempts: 0,
  };
}

const STALLED_REASON =
  'no end was recorded: its worker lost the job lock (Redis unreachable past the lock) or stopped, and the stall check put the job back in the queue';

/** The log with every open attempt closed `stalled` at `endedAt` (a new attempt starts). */
function closeStalled(log: readonly AttemptLogEntry[], endedAt: string): AttemptLogEntry[] {
  return log.map((entry) =>
    entry.endedAt !== undefined
      ? entry
      : { ...entry, endedAt, outcome: 'stalled', reason: STALLED_REASON },
  );
}

/** The log with `workerId`'s last open attempt ended (unchanged when it has none open). */
function closeAttempt(
  log: readonly AttemptLogEntry[],
  workerId: string,
  end: Pick<AttemptLogEntry, 'outcome' | 'reason'>,
): AttemptLogEntry[] {
  const entries = [...log];
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i];
    if (entry === undefined || entry.workerId !== workerId || entry.endedAt !== undefined) continue;
    entries[i] = {
      ...entry,
      endedAt: new Date().toISOString(),
      ...(end.outcome !== undefined ? { outcome: end.outcome } : {}),
      ...(end.reason !== undefined ? { reason: end.reason } : {}),
    };
    break;
  }
  return entries;
}
