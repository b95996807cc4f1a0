import { setTimeout as sleep } from 'node:timers/promises';

import { type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';

const LOCK_RETRY_MS = 50;

export interface SweepLockOptions {
  readonly store: SweepStore;
  readonly logger: ControllerLogger;
  /** Lifetime of the lock; it is renewed every ttlMs / 3 while held. */
  readonly ttlMs: number;
}

/**
 * The per-sweep Redis lock that serialises advances and user actions across API replicas. It is
 * renewed while held; a holder that loses it anyway (paused past its TTL) is stopped from
 * overwriting newer state by the record's fencing version (SweepStore.putSweep), not by the lock.
 */
export class SweepLock {
  constructor(private readonly options: SweepLockOptions) {}

  /** Runs `fn` holding the sweep's lock; undefined when the lock stayed busy for `waitMs`. */
  async withLock<T>(sweepId: string, waitMs: number, fn: () => Promise<T>): Promise<T | undefined> {
    const token = await this.acquire(sweepId, waitMs);
    if (token === undefined) {
      // Another replica is advancing this sweep; the reconcile loop catches anything it missed.
      this.options.logger.debug({ sweepId }, 'sweep lock busy');
      return undefined;
    }
    const renewal = this.keepRenewed(sweepId, token);
    try {
      return await fn();
    } finally {
      clearInterval(renewal);
      await this.options.store.releaseLock(sweepId, token);
    }
  }

  private async acquire(sweepId: string, waitMs: number): Promise<string | undefined> {
    const { store, ttlMs } = this.options;
    const deadline = Date.now() + waitMs;
    let token = await store.acquireLock(sweepId, ttlMs);
    while (token === undefined && Date.now() < deadline) {
      await sleep(LOCK_RETRY_MS);
      token = await store.acquireLock(sweepId, ttlMs);
    }
    return token;
  }

  private keepRenewed(sweepId: string, token: string): NodeJS.Timeout {
    const { store, ttlMs, logger } = this.options;
    const timer = setInterval(
      () => {
        store.renewLock(sweepId, token, ttlMs).then(
          (held) => {
            if (!held) logger.warn({ sweepId }, 'sweep lock lost while held; writes are fenced');
          },
          (error: unknown) => {
            logger.warn({ err: error, sweepId }, 'renewing the sweep lock failed');
          },
        );
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    timer.unref();
    return timer;
  }
}
