import type { Redis } from 'ioredis';
import { redisKeys } from '@setrain/protocol';

import type { Logger } from '../logger.js';
import { errorMessage } from '../worker-error.js';

/** How often a worker refreshes its entry in `<prefix>:workers`. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** Entries not refreshed for this long belong to dead workers and are removed by live ones. */
export const DEFAULT_HEARTBEAT_STALE_MS = 60_000;

/**
 * How long a change of the running trial waits to be published: trial changes within it share one
 * write (a worker running short trials back to back wrote its entry twice per trial).
 */
export const HEARTBEAT_CHANGE_DELAY_MS = 1000;

/** What a worker publishes about itself (JSON value of its field in `<prefix>:workers`). */
export interface WorkerHeartbeat {
  workerId: string;
  engine: string;
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** The trial running now, if any. */
  trialId?: string;
}

/** Options of {@link startHeartbeat}. */
export interface HeartbeatOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly workerId: string;
  readonly engine: string;
  readonly activeTrialId: () => string | undefined;
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly staleMs?: number;
}

/** A running heartbeat; stop() removes this worker's entry. */
export interface Heartbeat {
  /**
   * Refreshes the entry soon (the running trial changed), not only at the next interval: within
   * HEARTBEAT_CHANGE_DELAY_MS, this worker's entry alone; stale entries go at the interval.
   */
  trialChanged(): void;
  stop(): Promise<void>;
}

/**
 * Keeps this worker's entry in the `<prefix>:workers` hash fresh (the API's
 * setrain_workers_registered gauge counts it) and removes entries of workers that stopped beating
 * (killed without a chance to remove their own).
 */
export async function startHeartbeat(options: HeartbeatOptions): Promise<Heartbeat> {
  const key = redisKeys(options.prefix).workers;
  const intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const staleMs = options.staleMs ?? DEFAULT_HEARTBEAT_STALE_MS;
  const startedAt = new Date().toISOString();
  const publish = async (): Promise<void> => {
    const trialId = options.activeTrialId();
    const heartbeat: WorkerHeartbeat = {
      workerId: options.workerId,
      engine: options.engine,
      pid: process.pid,
      startedAt,
      updatedAt: new Date().toISOString(),
      ...(trialId !== undefined ? { trialId } : {}),
    };
    await options.redis.hset(key, options.workerId, JSON.stringify(heartbeat));
  };
  const beat = async (): Promise<void> => {
    await publish();
    const now = Date.now();
    for (const [workerId, raw] of Object.entries(await options.redis.hgetall(key))) {
      let updatedAt = 0;
      try {
        updatedAt = Date.parse((JSON.parse(raw) as Partial<WorkerHeartbeat>).updatedAt ?? '');
      } catch {
        // An unreadable entry counts as stale.
      }
      if (!(now - updatedAt < staleMs)) await options.redis.hdel(key, workerId);
    }
  };
  await beat();
  const logged = (run: () => Promise<void>) => (): void => {
    run().catch((error: unknown) => {
      options.logger.warn({ error: errorMessage(error) }, 'heartbeat failed');
    });
  };
  const timer = setInterval(logged(beat), intervalMs);
  timer.unref();
  let stopped = false;
  let change: NodeJS.Timeout | undefined;
  const publishChange = logged(async () => {
    change = undefined;
    if (!stopped) await publish();
  });
  return {
    trialChanged() {
      if (stopped || change !== undefined) return;
      change = setTimeout(publishChange, HEARTBEAT_CHANGE_DELAY_MS);
      change.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(change);
      await options.redis.hdel(key, options.workerId).catch(() => undefined);
    },
  };
}
