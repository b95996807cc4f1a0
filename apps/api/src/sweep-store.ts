import { randomBytes } from 'node:crypto';

import {
  epochMetricsSchema,
  redisKeys,
  stopRequestSchema,
  SWEEP_STOP_FIELD,
  type ControlMessage,
  type EpochMetrics,
  type StopRequest,
  type TrialState,
} from '@setrain/protocol';
import { type ChainableCommander, type Redis } from 'ioredis';

import { StaleSweepWriteError } from './stale-sweep-write-error.js';
import { type SweepRecord } from './sweep-record.js';
import { SweepRecordCache } from './sweep-record-cache.js';
import { parseTrial, TrialReadCache, type StoredTrial } from './trial-read-cache.js';

export type { StoredTrial } from './trial-read-cache.js';

/** A trial's stored JSON: its state (undefined when there is no such trial) and its epoch rows. */
export interface TrialRaws {
  readonly state: string | undefined;
  readonly epochs: readonly string[];
}

/** Trials read by id, and how many trials the sweep has (see getStoredTrialsById). */
export interface TrialsById {
  readonly total: number;
  readonly trials: (StoredTrial | undefined)[];
}

/** What a controller pass reads first, sent with the sweep lock's SET (see lockWithReads). */
export interface PassReads {
  readonly record: SweepRecord | undefined;
  /** The whole-sweep stop request, if one was recorded. */
  readonly stop: StopRequest | undefined;
  /** The trials asked for, with the sweep's trial count; undefined when none were asked for. */
  readonly trials: TrialsReadAhead | undefined;
}

/** Trials read ahead by id: which ones, and what was read. */
export interface TrialsReadAhead {
  readonly trialIds: readonly string[];
  readonly fresh: TrialsById;
}

// The trials hash's SHA-1 and, unless it is still ARGV[1] (the digest the caller holds them
// under), its values: an unchanged hash costs one small reply instead of the whole hash.
const READ_TRIALS = `
local all = redis.call('HGETALL', KEYS[1])
local digest = redis.sha1hex(table.concat(all, '\\n'))
if digest == ARGV[1] then return {digest} end
local values = {}
for i = 2, #all, 2 do values[#values + 1] = all[i] end
return {digest, values}`;

// Sets a hash field only if it still holds the JSON the caller read ('' = absent), so a controller
// never overwrites a state a worker wrote in between.
const CAS_HSET = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current == false and ARGV[2] == '') or current == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

// Writes a sweep record only if the stored record's version is still ARGV[1] (fencing: a replica
// whose lock expired while it was paused cannot overwrite what a newer holder wrote).
const CAS_SET_SWEEP = `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current)['version'] or 0 end
if version == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`;

// Creates a trial (ARGV[1] the field, ARGV[2] its JSON) only if absent, together with the sweep
// record's next version (ARGV[4]) only if the stored version is still ARGV[3]: both or neither.
// Returns 1 written, 0 the trial exists, -1 the record's version moved on.
const CREATE_TRIAL = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local current = redis.call('GET', KEYS[2])
local version = 0
if current then version = cjson.decode(current)['version'] or 0 end
if version ~= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[4])
return 1`;

const RENEW_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Sweep and trial state in Redis. Every key is under the configured prefix (one cluster slot).
 * The store holds no state of its own: any API replica sees the same sweeps.
 */
export class SweepStore {
  readonly keys: ReturnType<typeof redisKeys>;
  /** Set of sweeps the reconcile loop still has to look after (running, or trials still ending). */
  readonly activeSweepsKey: string;
  private readonly trialReads = new TrialReadCache();
  private readonly records = new SweepRecordCache();

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.keys = redisKeys(prefix);
    this.activeSweepsKey = this.keys.activeSweeps;
  }

  /** Stores a new sweep, lists it, and marks it active, in one transaction. */
  async createSweep(record: SweepRecord): Promise<void> {
    const raw = JSON.stringify(record);
    await this.redis
      .multi()
      .set(this.keys.sweep(record.id), raw)
      .zadd(this.keys.sweeps, Date.parse(record.createdAt), record.id)
      .sadd(this.activeSweepsKey, record.id)
      .exec();
    this.records.remember(record.id, raw, record);
  }

  /** The sweep's record (parsed once per stored JSON and shared, frozen: SweepRecordCache). */
  async getSweep(sweepId: string): Promise<SweepRecord | undefined> {
    return this.recordOf(sweepId, await this.redis.get(this.keys.sweep(sweepId)));
  }

  private recordOf(sweepId: string, raw: string | null): SweepRecord | undefined {
    if (raw !== null) return this.records.parse(sweepId, raw);
    this.records.forget(sweepId);
    return undefined;
  }

  /**
   * Writes `record` as the next version of the sweep, only if the stored version is still
   * `record.version` (the one it was read at). Returns the record as stored (version + 1); throws
   * StaleSweepWriteError when someone wrote the sweep in between.
   */
  async putSweep(record: SweepRecord): Promise<SweepRecord> {
    const next: SweepRecord = { ...record, version: record.version + 1 };
    const key = this.keys.sweep(record.id);
    const raw = JSON.stringify(next);
    const written = await this.redis.eval(CAS_SET_SWEEP, 1, key, String(record.version), raw);
    if (written !== 1) throw new StaleSweepWriteError(record.id, record.version);
    this.records.remember(record.id, raw, next);
    return next;
  }

  /**
   * Stores a new trial and the record that counts it (`record`, written as its next version as
   * putSweep does) in one atomic step: a trial never exists without the record write, and one
   * round trip instead of two. Returns the record as stored, or 'exists' (the trial was there
   * already; nothing written); throws StaleSweepWriteError when someone wrote the sweep in between.
   */
  async createTrial(record: SweepRecord, state: TrialState): Promise<SweepRecord | 'exists'> {
    const next: SweepRecord = { ...record, version: record.version + 1 };
    const raw = JSON.stringify(next);
    const written = await this.redis.eval(
      CREATE_TRIAL,
      2,
      this.keys.sweepTrials(record.id),
      this.keys.sweep(record.id),
      state.trialId,
      JSON.stringify(state),
      String(record.version),
      raw,
    );
    if (written === 0) return 'exists';
    if (written !== 1) throw new StaleSweepWriteError(record.id, record.version);
    this.records.remember(record.id, raw, next);
    return next;
  }

  /**
   * Records stop requests (field trialId or SWEEP_STOP_FIELD). The first request of a field wins
   * and is never cleared, so workers that check later still see it.
   */
  async requestStops(sweepId: string, stops: ReadonlyMap<string, StopRequest>): Promise<void> {
    if (stops.size === 0) return;
    const key = this.keys.sweepStops(sweepId);
    const multi = this.redis.multi();
    for (const [field, request] of stops) multi.hsetnx(key, field, JSON.stringify(request));
    await multi.exec();
  }

  /** The whole-sweep stop request, if one was recorded. */
  async getSweepStop(sweepId: string): Promise<StopRequest | undefined> {
    return stopOf(await this.redis.hget(this.keys.sweepStops(sweepId), SWEEP_STOP_FIELD));
  }

  /** Sweeps newest first. */
  async listSweeps(offset: number, limit: number): Promise<{ ids: string[]; total: number }> {
    const [ids, total] = await Promise.all([
      this.redis.zrevrange(this.keys.sweeps, offset, offset + limit - 1),
      this.redis.zcard(this.keys.sweeps),
    ]);
    return { ids, total };
  }

  async activeSweepIds(): Promise<string[]> {
    return this.redis.smembers(this.activeSweepsKey);
  }

  async markInactive(sweepId: string): Promise<void> {
    await this.redis.srem(this.activeSweepsKey, sweepId);
  }

  /**
   * The sweep's trials with the JSON each was read from, by trial number. States are parsed once
   * per JSON and shared (frozen) between reads: see TrialReadCache.
   */
  async getStoredTrials(sweepId: string): Promise<StoredTrial[]> {
    const key = this.keys.sweepTrials(sweepId);
    let known = this.trialReads.digestOf(sweepId);
    for (;;) {
      const [digest, raws] = (await this.redis.eval(READ_TRIALS, 1, key, known)) as [
        string,
        string[]?,
      ]; // READ_TRIALS returns {digest} or {digest, values}
      if (raws !== undefined) return [...this.trialReads.store(sweepId, digest, raws)];
      const cached = this.trialReads.hit(sweepId, digest);
      if (cached !== undefined) return [...cached];
      known = ''; // evicted by another read in between: read the values
    }
  }

  /**
   * The trials `trialIds` of the sweep (undefined where a trial is absent) and how many trials the
   * sweep has, in one round trip: what an incremental advance re-reads.
   */
  async getStoredTrialsById(sweepId: string, trialIds: readonly string[]): Promise<TrialsById> {
    const pipeline = this.redis.pipeline();
    this.queueTrialsById(pipeline, sweepId, trialIds);
    return trialsById(trialIds, resultsOf(await pipeline.exec()));
  }

  /** Adds getStoredTrialsById's reads to `pipeline` (one HLEN, then one HMGET if any ids). */
  private queueTrialsById(
    pipeline: ChainableCommander,
    sweepId: string,
    trialIds: readonly string[],
  ): void {
    const key = this.keys.sweepTrials(sweepId);
    pipeline.hlen(key);
    if (trialIds.length > 0) pipeline.hmget(key, ...trialIds);
  }

  async getTrials(sweepId: string): Promise<TrialState[]> {
    return (await this.getStoredTrials(sweepId)).map((t) => t.state);
  }

  async getTrial(sweepId: string, trialId: string): Promise<TrialState | undefined> {
    const raw = await this.redis.hget(this.keys.sweepTrials(sweepId), trialId);
    return raw === null ? undefined : parseTrial(raw);
  }

  /**
   * Writes `state` only if the stored JSON is still `expectedRaw` (undefined: the trial must not
   * exist yet). Returns false when someone else (a worker) wrote it in between.
   */
  async compareAndSetTrial(
    sweepId: string,
    state: TrialState,
    expectedRaw: string | undefined,
  ): Promise<boolean> {
    const result = await this.redis.eval(
      CAS_HSET,
      1,
      this.keys.sweepTrials(sweepId),
      state.trialId,
      expectedRaw ?? '',
      JSON.stringify(state),
    );
    return result === 1;
  }

  /**
   * The trial's state and epoch metrics as the JSON Redis holds (state undefined: no such trial),
   * both commands sent at once: on an auto-pipelined connection they leave in one write.
   */
  async getTrialRaws(sweepId: string, trialId: string): Promise<TrialRaws> {
    const [state, epochs] = await Promise.all([
      this.redis.hget(this.keys.sweepTrials(sweepId), trialId),
      this.redis.lrange(this.keys.trialEpochs(trialId), 0, -1),
    ]);
    return { state: state ?? undefined, epochs };
  }

  /** The trial's metrics per finished epoch (the worker appends them). */
  async getEpochs(trialId: string): Promise<EpochMetrics[]> {
    const raws = await this.redis.lrange(this.keys.trialEpochs(trialId), 0, -1);
    return raws.map(parseEpoch);
  }

  /** getEpochs for each of `trialIds`, in order, in one round trip (one pipeline). */
  async getEpochsOf(trialIds: readonly string[]): Promise<EpochMetrics[][]> {
    if (trialIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const trialId of trialIds) pipeline.lrange(this.keys.trialEpochs(trialId), 0, -1);
    const lists = resultsOf(await pipeline.exec()) as string[][]; // LRANGE: a list of values
    return lists.map((raws) => raws.map(parseEpoch));
  }

  /** Takes the sweep's lock for `ttlMs`; returns the token to release it with, or undefined if held. */
  async acquireLock(sweepId: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(12).toString('hex');
    const ok = await this.redis.set(this.keys.sweepLock(sweepId), token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  /**
   * acquireLock, and in the same round trip (one pipeline) what a controller pass reads first:
   * the record, the whole-sweep stop and, when `trialIds` is given, those trials and the trial
   * count. Redis runs the reads after the SET on this connection, so they see what they would
   * after the lock was taken. Undefined (the reads dropped) when the lock is held.
   */
  async lockWithReads(
    sweepId: string,
    ttlMs: number,
    trialIds: readonly string[] | undefined,
  ): Promise<{ token: string; reads: PassReads } | undefined> {
    const token = randomBytes(12).toString('hex');
    const pipeline = this.redis
      .pipeline()
      .set(this.keys.sweepLock(sweepId), token, 'PX', ttlMs, 'NX')
      .get(this.keys.sweep(sweepId))
      .hget(this.keys.sweepStops(sweepId), SWEEP_STOP_FIELD);
    if (trialIds !== undefined) this.queueTrialsById(pipeline, sweepId, trialIds);
    const [locked, record, stop, ...trials] = resultsOf(await pipeline.exec());
    if (locked !== 'OK') return undefined;
    return {
      token,
      reads: {
        record: this.recordOf(sweepId, record as string | null),
        stop: stopOf(stop as string | null),
        trials:
          trialIds === undefined ? undefined : { trialIds, fresh: trialsById(trialIds, trials) },
      },
    };
  }

  /** Extends the lock to `ttlMs` from now if `token` still holds it; false when it was lost. */
  async renewLock(sweepId: string, token: string, ttlMs: number): Promise<boolean> {
    const renewed = await this.redis.eval(
      RENEW_LOCK,
      1,
      this.keys.sweepLock(sweepId),
      token,
      ttlMs,
    );
    return renewed === 1;
  }

  async releaseLock(sweepId: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_LOCK, 1, this.keys.sweepLock(sweepId), token);
  }

  /** Publishes a control message to every worker. Returns how many subscribers received it. */
  async publishControl(message: ControlMessage): Promise<number> {
    return this.redis.publish(this.keys.controlChannel, JSON.stringify(message));
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }
}

/** A pipeline's replies; throws the first command's error. */
function resultsOf(results: [Error | null, unknown][] | null): unknown[] {
  for (const [error] of results ?? []) if (error) throw error;
  return (results ?? []).map(([, value]) => value);
}

/** queueTrialsById's replies (HLEN, then HMGET when there were ids) as trials by id. */
function trialsById(trialIds: readonly string[], replies: readonly unknown[]): TrialsById {
  const raws = (replies[1] ?? []) as (string | null)[]; // HMGET: a value or null per field
  const trials = trialIds.map((_, i) => {
    const raw = raws[i];
    return raw == null ? undefined : { raw, state: parseTrial(raw) };
  });
  return { total: Number(replies[0] ?? 0), trials };
}

export function parseEpoch(raw: string): EpochMetrics {
  return epochMetricsSchema.parse(JSON.parse(raw));
}

function stopOf(raw: string | null): StopRequest | undefined {
  const parsed = raw === null ? undefined : stopRequestSchema.safeParse(JSON.parse(raw));
  return parsed?.success === true ? parsed.data : undefined;
}
