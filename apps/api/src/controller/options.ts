import { type S3Client } from '@aws-sdk/client-s3';
import {
  type SweepKind,
  type SweepSpec,
  type TrialPayload,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { type Queue, type QueueEvents } from 'bullmq';

import { type SweepRecord } from '../sweep-record.js';
import { type SweepStore } from '../sweep-store.js';

export const DEFAULT_LOCK_TTL_MS = 30_000;
export const DEFAULT_JOB_ATTEMPTS = 3;
export const DEFAULT_JOB_BACKOFF_MS = 10_000;
/** Finished jobs stay in Redis this long, so a controller that was down still sees their results. */
export const DEFAULT_JOB_RETENTION_SECONDS = 30 * 24 * 3600;
/** How long an advance waits for another replica's lock before leaving it to the reconcile loop. */
export const DEFAULT_LOCK_WAIT_MS = 2000;
/** Job states in which a trial has not started and can simply be removed on cancel. */
export const NOT_STARTED_JOB_STATES: ReadonlySet<string> = new Set([
  'waiting',
  'delayed',
  'prioritized',
  'waiting-children',
]);

/** The subset of pino's logger the controller uses (Fastify's `app.log` fits). */
export interface ControllerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SweepControllerOptions {
  readonly store: SweepStore;
  /** Producer of the trials queue (TRIALS_QUEUE under the same prefix as the store). */
  readonly queue: Queue<TrialPayload, TrialResult>;
  /** Completed/failed events of the trials queue; without it only the reconcile loop advances. */
  readonly queueEvents?: QueueEvents;
  readonly s3: S3Client;
  /**
   * Archives a sweep once it ended and every trial settled (before it stops being watched); a
   * failure leaves it watched, so the reconcile loop retries. Without it nothing is archived.
   */
  readonly archive?: { archive(record: SweepRecord, trials: readonly TrialState[]): Promise<void> };
  /** Bucket of runs/<sweepId>/... (sweep.json; workers write trials there). */
  readonly artifactsBucket: string;
  readonly logger: ControllerLogger;
  /** Period of the loop that advances every active sweep (and runs once at start). Default 5000. */
  readonly reconcileIntervalMs?: number;
  /** Lifetime of a sweep lock; an advance must finish well within it. Default 30 s. */
  readonly lockTtlMs?: number;
  /**
   * How long pause, resume and PATCH wait for the sweep's lock before answering 503 SWEEP_BUSY.
   * Default 10 s.
   */
  readonly userLockWaitMs?: number;
  /** BullMQ attempts per trial (retries infrastructure failures; workers fail bad trials for good). */
  readonly jobAttempts?: number;
  /** First exponential backoff delay between attempts. Default 10 s. */
  readonly jobBackoffMs?: number;
  /**
   * Told of every stored change of a sweep's record (before: undefined when just created); queues
   * webhooks and must not throw. Without it, specs with `notify` are refused.
   */
  readonly notifier?: {
    sweepChanged(before: SweepRecord | undefined, after: SweepRecord): Promise<void>;
  };
  readonly now?: () => Date;
}

export interface CreateSweepInput {
  readonly spec: SweepSpec;
  readonly kind: SweepKind;
}
