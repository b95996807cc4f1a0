import { setTimeout as sleep } from 'node:timers/promises';

import { type PassReads, type SweepStore } from '../sweep-store.js';
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
    const { store, ttlMs } = this.options;
    const taken = await this.acquire(sweepId, waitMs, async () => {
      const token = await store.acquireLock(sweepId, ttlMs);
      return token === undefined ? undefined : { token, value: undefined };
    });
    return taken === undefined ? undefined : this.holding(sweepId, taken.token, fn);
  }

  /**
   * withLock for a controller pass: `fn` gets the pass's first reads, sent with the lock's SET in
   * one round trip (SweepStore.lockWithReads; `trialIds`: the trials to read ahead).
   */
  async withLockAndReads<T>(
    sweepId: string,
    waitMs: number,
    trialIds: readonly string[] | undefined,
    fn: (reads: PassReads) => Promise<T>,
  ): Promise<T | undefined> {
    const { store, ttlMs } = this.options;
    const taken = await this.acquire(sweepId, waitMs, async () => {
      const locked = await store.lockWithReads(sweepId, ttlMs, trialIds);
      return locked === undefined ? undefined : { token: locked.token, value: locked.reads };
    });
    return taken === undefined
      ? undefined
      : this.holding(sweepId, taken.token, () => fn(taken.value));
  }

  /** Runs `fn` with the lock `token` holds, renewing it meanwhile and releasing it after. */
  private async holding<T>(sweepId: string, token: string, fn: () => Promise<T>): Promise<T> {
    const renewal = this.keepRenewed(sweepId, token);
    try {
      return await fn();
    } finally {
      clearInterval(renewal);
      await this.options.store.releaseLock(sweepId, token);
    }
  }

  /** Tries `take` until it gets the lock or `waitMs` passed; undefined when it stayed busy. */
  private async acquire<V>(
    sweepId: string,
    waitMs: number,
    take: () => Promise<{ token: string; value: V } | undefined>,
  ): Promise<{ token: string; value: V } | undefined> {
    const deadline = Date.now() + waitMs;
    let taken = await take();
    while (taken === undefined && Date.now() < deadline) {
      await sleep(LOCK_RETRY_MS);
      taken = await take();
    }
    if (taken === undefined) {
      // Another replica is advancing this sweep; the reconcile loop catches anything it missed.
      this.options.logger.debug({ sweepId }, 'sweep lock busy');
    }
    return taken;
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
