import { setTimeout as sleep } from 'node:timers/promises';

import { type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';

const LOCK_RETRY_MS = 50;

export interface SweepLockOptions {
  readonly store: SweepStore;
  readonly logger: ControllerLogger;
  /** Lifetime of the lock; what runs under it must finish well within it. */
  readonly ttlMs: number;
}

/** The per-sweep Redis lock that serialises advances and user actions across API replicas. */
export class SweepLock {
  constructor(private readonly options: SweepLockOptions) {}

  /** Runs `fn` holding the sweep's lock; undefined when the lock stayed busy for `waitMs`. */
  async withLock<T>(sweepId: string, waitMs: number, fn: () => Promise<T>): Promise<T | undefined> {
    const { store, ttlMs } = this.options;
    const deadline = Date.now() + waitMs;
    let token = await store.acquireLock(sweepId, ttlMs);
    while (token === undefined && Date.now() < deadline) {
      await sleep(LOCK_RETRY_MS);
      token = await store.acquireLock(sweepId, ttlMs);
    }
    if (token === undefined) {
      // Another replica is advancing this sweep; the reconcile loop catches anything it missed.
      this.options.logger.debug({ sweepId }, 'sweep lock busy');
      return undefined;
    }
    try {
      return await fn();
    } finally {
      await store.releaseLock(sweepId, token);
    }
  }
}
