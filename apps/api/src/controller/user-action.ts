import { setTimeout as sleep } from 'node:timers/promises';

import { isFinishedSweepStatus } from '@setrain/protocol';

import { ApiError } from '../errors.js';
import { StaleSweepWriteError } from '../stale-sweep-write-error.js';
import { type SweepRecord } from '../sweep-record.js';
import { type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';
import { type SweepLock } from './sweep-lock.js';

/** How many times a user action is applied before it answers SWEEP_CONFLICT. */
export const USER_ACTION_ATTEMPTS = 5;
/** First pause before applying a fenced-off action again; doubles each time (25, 50, 100, 200 ms). */
export const USER_ACTION_RETRY_MS = 25;

/** What {@link runUserAction} needs. */
export interface UserActionOptions {
  readonly store: SweepStore;
  readonly lock: SweepLock;
  readonly logger: ControllerLogger;
  /** How long to wait for the sweep's lock before answering SWEEP_BUSY. */
  readonly lockWaitMs: number;
  /** Applies at most this many times (default USER_ACTION_ATTEMPTS). */
  readonly attempts?: number;
}

/**
 * Runs a user action (`pause`, `resume`, `update`) on an unfinished sweep under its lock, reading
 * the record afresh each time. The record write is fenced (SweepStore.putSweep): when another
 * writer stored a newer version in between (a replica whose lock expired, or one that took the
 * lock after ours expired), the action is applied again to the newer record, up to `attempts`
 * times, then answers 409 SWEEP_CONFLICT; a lock that stays busy answers 503 SWEEP_BUSY. Either
 * way nothing of this action was stored. 404 / 409 SWEEP_FINISHED as the record says.
 */
export async function runUserAction(
  options: UserActionOptions,
  sweepId: string,
  action: string,
  fn: (record: SweepRecord) => Promise<SweepRecord>,
): Promise<SweepRecord> {
  const { store, lock, logger, lockWaitMs } = options;
  const attempts = options.attempts ?? USER_ACTION_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await lock.withLock(sweepId, lockWaitMs, async () => {
        const record = await store.getSweep(sweepId);
        if (record === undefined) throw new ApiError('SWEEP_NOT_FOUND', { sweepId });
        if (isFinishedSweepStatus(record.status)) {
          throw new ApiError('SWEEP_FINISHED', { sweepId, status: record.status });
        }
        return fn(record);
      });
      if (result === undefined) {
        throw new ApiError('SWEEP_BUSY', { sweepId, waitMs: lockWaitMs, action });
      }
      return result;
    } catch (error) {
      if (!(error instanceof StaleSweepWriteError)) throw error;
      logger.warn({ sweepId, action, attempt, err: error }, 'sweep changed under a user action');
      if (attempt >= attempts) {
        throw new ApiError('SWEEP_CONFLICT', { sweepId, attempts, action }, undefined, {
          cause: error,
        });
      }
      await sleep(USER_ACTION_RETRY_MS * 2 ** (attempt - 1));
    }
  }
}
