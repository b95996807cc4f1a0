import type { Redis } from 'ioredis';
import {
  redisKeys,
  trialStateSchema,
  type EpochMetrics,
  type TrialPayload,
  type TrialState,
} from '@setrain/protocol';

/**
 * The worker's writes to a trial's live state in Redis: the TrialState in the sweep's trials hash
 * and the trial's list of epoch metrics.
 */
export class TrialStateStore {
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  async get(sweepId: string, trialId: string): Promise<TrialState | undefined> {
    const raw = await this.redis.hget(this.keys.sweepTrials(sweepId), trialId);
    if (raw === null) return undefined;
    const parsed = trialStateSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** Merges `patch` into the trial's state (created from the payload if absent). */
  async update(payload: TrialPayload, patch: Partial<TrialState>): Promise<TrialState> {
    const current = (await this.get(payload.sweepId, payload.trialId)) ?? {
      trialId: payload.trialId,
      trialNumber: payload.trialNumber,
      status: 'queued',
      params: payload.params,
      epochsCompleted: 0,
      objectiveValue: null,
      attempts: 0,
    };
    const next = trialStateSchema.parse({ ...current, ...patch });
    // Fields set to undefined in the patch are removed (e.g. a stale reason).
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined) delete (next as Record<string, unknown>)[field];
    }
    await this.redis.hset(
      this.keys.sweepTrials(payload.sweepId),
      payload.trialId,
      JSON.stringify(next),
    );
    return next;
  }

  /** Replaces the trial's epoch list with `history` (a resumed trial keeps only its checkpoint's epochs). */
  async resetEpochs(trialId: string, history: readonly EpochMetrics[]): Promise<void> {
    const key = this.keys.trialEpochs(trialId);
    const multi = this.redis.multi().del(key);
    if (history.length > 0) multi.rpush(key, ...history.map((m) => JSON.stringify(m)));
    await multi.exec();
  }

  async appendEpoch(trialId: string, metrics: EpochMetrics): Promise<void> {
    await this.redis.rpush(this.keys.trialEpochs(trialId), JSON.stringify(metrics));
  }

  async epochs(trialId: string): Promise<EpochMetrics[]> {
    const raw = await this.redis.lrange(this.keys.trialEpochs(trialId), 0, -1);
    return raw.map((line) => JSON.parse(line) as EpochMetrics);
  }
}
