import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  runKeys,
  trialPayloadSchema,
  trialResultSchema,
  type AttemptLogEntry,
  type CheckpointRoot,
  type EpochMetrics,
  type TrialPayload,
  type TrialRecord,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import type { EngineName } from '@setrain/engine';
import { createS3Client, type S3Config } from '@setrain/storage';

import { deleteCheckpoint } from '../checkpoint-delete.js';
import { isInfrastructureError } from '../failure-kind.js';
import type { Logger } from '../logger.js';
import type { GiveBackReason, WorkerMetrics } from '../metrics.js';
import { WORKER_PACKAGE_VERSION } from '../package-version.js';
import type { TrialDataOptions } from '../trial-data.js';
import type { TrialLimits } from '../trainer/trial-limits.js';
import type { TrialFaults, TrialOutcome, TrialRunRequest, TrialStarted } from '../trial-ipc.js';
import { buildTrialRecord, writeTrialRecord } from '../trial-record.js';
import { errorMessage, WorkerError } from '../worker-error.js';
import { pendingStop, stopMessage } from './stop-requests.js';
import { forkTrialLauncher, type RunningTrial, type TrialLauncher } from './trainer-launcher.js';
import { trialListeners, type TrialProgress } from './trial-listeners.js';
import { TrialStateStore } from './trial-state-store.js';
import { WorkerHealth } from './worker-health.js';

/** Dependencies of {@link createTrialProcessor}, injected so tests build it against real services. */
export interface TrialProcessorDeps {
  /** Connection for trial state writes (not BullMQ's). */
  readonly redis: Redis;
  /** Redis key prefix shared with the API. */
  readonly keyPrefix: string;
  readonly workerId: string;
  readonly s3: S3Config;
  readonly engine: EngineName;
  /** Threads for the engine in each trial process; undefined: every core. */
  readonly engineThreads?: number | undefined;
  /** The native engine's kernel queue in each trial process; undefined: the engine's default. */
  readonly engineKernelQueue?: boolean | undefined;
  readonly cacheDir: string;
  readonly downloadConcurrency: number;
  /** Image limits and cache budgets passed to each trial; defaults when absent. */
  readonly data?: TrialDataOptions | undefined;
  /** Memory budget and data buckets each trial re-checks before training; defaults when absent. */
  readonly limits?: TrialLimits | undefined;
  readonly logger: Logger;
  /** Prometheus metrics of this worker; trial processes report into it over IPC. */
  readonly metrics?: WorkerMetrics;
  /** Outage budget, quarantine and readiness. Default: a WorkerHealth with the config defaults. */
  readonly health?: WorkerHealth;
  /** How often the durable stop requests are read while a trial trains. Default 1 s. */
  readonly stopPollMs?: number;
  /** Starts trial processes. Default: fork one per trial. */
  readonly launcher?: TrialLauncher;
  /** Test hook: faults the trial process injects, for every trial or chosen per trial. */
  readonly faults?: TrialFaults | ((payload: TrialPayload) => TrialFaults | undefined);
  /** Called with each epoch's tensor count (tests check for leaks). */
  readonly onEpochTensors?: (trialId: string, epoch: number, numTensors: number) => void;
  /** Called when the trial held here changes (taken or released): the heartbeat refreshes. */
  readonly onActiveTrialChange?: () => void;
  /** Called when a trial process reports what it loaded (tests check the cache). */
  readonly onTrialStarted?: (trialId: string, started: TrialStarted) => void;
}

/** The processor a BullMQ Worker runs, plus the controls the worker process needs. */
export interface TrialProcessor {
  /** BullMQ processor (three parameters, so BullMQ passes the AbortSignal of worker.cancelJob). */
  process(
    job: Job<unknown, TrialResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<TrialResult>;
  /**
   * Cancels the named trials if one is held here (running, or starting: the cancel is remembered
   * and applied once its process runs); true when it did.
   */
  cancel(trialIds: readonly string[], reason: string): boolean;
  /**
   * Asks the running trial (if any) to stop at its next batch boundary and give its job back to the
   * queue without counting an attempt; new jobs are given back at once.
   */
  shutdown(): void;
  /** Kills the running trainer process at once (a shutdown that ran out of time). */
  kill(): void;
  /**
   * The job's BullMQ lock is lost or about to expire (see LockWatchdog): kills the trainer at once,
   * so the trial never trains on two workers, and leaves the job to BullMQ's stall check (nothing
   * is written for it here). Undefined when the job was not held here; else the give-back move
   * already sent for it, if any (see creditLostLock: if it lands, the job does not stall).
   */
  lockLost(jobId: string, reason: string): LostJob | undefined;
  /** The trial held now, if any. */
  readonly activeTrialId: string | undefined;
  readonly health: WorkerHealth;
}

/** A job whose lock was lost while held here. */
export interface LostJob {
  /** The give-back move (to wait or delayed) sent before the lock was lost, if one was. */
  readonly pendingMove: Promise<unknown> | undefined;
}

/** Default interval of the durable stop check while a trial trains. */
export const DEFAULT_STOP_POLL_MS = 1000;
const SHUTDOWN_MESSAGE = 'the worker is shutting down';

/** The trial held now; `trial` is unset until its process starts, `cancelReason` set by an early cancel. */
interface HeldTrial {
  readonly trialId: string;
  trial?: RunningTrial;
  cancelReason?: string;
  /** Set when the job's lock was lost: the job is no longer this worker's to move. */
  lostLock?: string;
  /** The give-back move once sent (no move is sent after the lock is lost). */
  move?: Promise<unknown>;
}

/** One job being processed. */
interface Held {
  readonly job: Job<unknown, TrialResult>;
  readonly token: string | undefined;
  readonly payload: TrialPayload;
  readonly log: Logger;
}

function parsePayload(job: Job): TrialPayload {
  const parsed = trialPayloadSchema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(
      `TRIAL_PAYLOAD_INVALID: job ${job.id ?? '?'} is not a trial payload: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
        .join('; ')}`,
    );
  }
  return parsed.data;
}

/** A trial failure already recorded (state, attempts log), thrown for BullMQ to retry or fail. */
class TrialFailedError extends Error {
  override readonly name = 'TrialFailedError';
}

/** Errors already handled here, which must reach BullMQ unchanged. */
function isJobControlError(error: unknown): boolean {
  return (
    error instanceof TrialFailedError ||
    error instanceof UnrecoverableError ||
    error instanceof WaitingError ||
    error instanceof DelayedError
  );
}

/** Builds the trial processor (one trial at a time: the worker runs it with concurrency 1). */
export function createTrialProcessor(deps: TrialProcessorDeps): TrialProcessor {
  const store = new TrialStateStore(deps.redis, deps.keyPrefix);
  const launcher = deps.launcher ?? forkTrialLauncher();
  const health =
    deps.health ??
    new WorkerHealth({
      outageBudgetSeconds: 300,
      quarantineAfter: 3,
      logger: deps.logger,
      metrics: deps.metrics,
    });
  let active: HeldTrial | undefined;
  let shuttingDown = false;
  let s3Client: S3Client | undefined;

  /** Writes trial.json for a trial that ended without its trainer writing it. */
  const writeEndedRecord = async (
    payload: TrialPayload,
    status: TrialRecord['status'],
    reason: string,
    epochs: readonly EpochMetrics[],
    attemptsLog: readonly AttemptLogEntry[] | undefined,
  ): Promise<string | undefined> => {
    s3Client ??= createS3Client(deps.s3);
    const record = buildTrialRecord(payload, {
      status,
      reason,
      epochs,
      attemptsLog,
      provenance: {
        dataset: payload.dataset,
        seed: payload.training.seed,
        packageVersion: WORKER_PACKAGE_VERSION,
        workerId: deps.workerId,
      },
    });
    const key = runKeys(payload.sweepId).trial(payload.trialId).trialJson;
    try {
      await writeTrialRecord(s3Client, payload.artifactsBucket, key, record);
      return key;
    } catch (error) {
      deps.logger.warn(
        {
          trialId: payload.trialId,
          error: errorMessage(error),
        },
        'could not write trial.json',
      );
      return undefined;
    }
  };

  /** Ends the trial cancelled (a durable stop request or a cancel): never retried. */
  const endCancelled = async (
    held: Held,
    reason: string,
    epochs: readonly EpochMetrics[] = [],
  ): Promise<never> => {
    const message = `cancelled: ${reason}`;
    const state = await store.endAttempt(
      held.payload,
      deps.workerId,
      { outcome: 'cancelled', reason: message },
      { status: 'cancelled', reason: message, finishedAt: new Date().toISOString() },
    );
    const trialJson = await writeEndedRecord(
      held.payload,
      'cancelled',
      message,
      epochs,
      state.attemptsLog,
    );
    if (trialJson !== undefined) await store.update(held.payload, { trialJson });
    held.log.info({ reason }, 'trial cancelled');
    deps.metrics?.trialFinished({ outcome: 'cancelled' });
    throw new UnrecoverableError(`TRIAL_CANCELLED: ${message}`);
  };

  /** The durable stop request of the trial or its sweep, or a cancel remembered here. */
  const stopReason = async (held: Held): Promise<string | undefined> => {
    if (active?.cancelReason !== undefined) return active.cancelReason;
    const stop = await pendingStop(
      deps.redis,
      deps.keyPrefix,
      held.payload.sweepId,
      held.payload.trialId,
    );
    return stop === undefined ? undefined : stopMessage(stop);
  };

  /**
   * Ends processing of a job whose lock was lost without moving it or writing its state (another
   * worker may hold it by now): BullMQ's stall check puts it back in the queue, and it resumes
   * from its last checkpoint. WaitingError: BullMQ leaves the job as it is.
   */
  const leaveLostJob = (held: Held, reason: string): never => {
    held.log.warn({ reason }, 'job lock lost: trainer stopped, the job is left to the stall check');
    deps.metrics?.countGiveBack('lost-lock');
    deps.metrics?.trialReleased();
    throw new WaitingError();
  };

  /** Leaves the job (see leaveLostJob) once its lock is lost: its state is no longer ours to write. */
  const leaveIfLost = (held: Held): void => {
    const reason = active?.trialId === held.payload.trialId ? active.lostLock : undefined;
    if (reason !== undefined) leaveLostJob(held, reason);
  };

  /**
   * Gives the job back without using an attempt: to wait at once, or delayed (an outage). A stop
   * requested meanwhile ends the trial cancelled instead, so no other worker trains it.
   */
  const giveBack = async (
    held: Held,
    why: GiveBackReason,
    reason: string,
    delayMs?: number,
  ): Promise<never> => {
    leaveIfLost(held);
    const stop = await stopReason(held).catch(() => undefined);
    if (stop !== undefined) return endCancelled(held, stop);
    leaveIfLost(held);
    await store
      .endAttempt(
        held.payload,
        deps.workerId,
        { outcome: 'given-back', reason },
        { status: 'queued', reason, workerId: undefined },
      )
      .catch((error: unknown) => {
        held.log.warn({ error: errorMessage(error) }, 'could not record the give-back');
      });
    deps.metrics?.countGiveBack(why);
    held.log.info({ why, reason, delayMs }, 'trial given back');
    leaveIfLost(held);
    // Neither move counts an attempt: attemptsMade only grows when a job fails.
    const move =
      delayMs !== undefined
        ? held.job.moveToDelayed(Date.now() + delayMs, held.token)
        : held.job.moveToWait(held.token);
    // Remembered for a lock lost while the move waits for Redis (see creditLostLock).
    if (active?.trialId === held.payload.trialId) active.move = move;
    await move;
    throw delayMs !== undefined ? new DelayedError() : new WaitingError();
  };

  /** An outage (Redis or S3 unreachable): waited out within the budget, else a normal failure. */
  const onOutage = async (held: Held, error: unknown, progress: TrialProgress): Promise<never> => {
    const delayMs = health.recordOutage();
    const message = errorMessage(error);
    if (delayMs !== undefined) {
      deps.metrics?.trialReleased();
      return giveBack(held, 'outage', `waiting out an outage: ${message}`, delayMs);
    }
    held.log.error({ error: message }, 'outage budget spent; the failure uses an attempt');
    return failRetryable(held, `INFRASTRUCTURE_UNAVAILABLE: ${message}`, progress);
  };

  /** A failure a retry may fix: the trial is queued again, or fails on its last attempt. */
  const failRetryable = async (
    held: Held,
    message: string,
    progress: TrialProgress,
  ): Promise<never> => {
    leaveIfLost(held);
    const { job, payload } = held;
    const willRetry = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    held.log.warn({ error: message, willRetry }, 'trial failed');
    const state = await store.endAttempt(
      payload,
      deps.workerId,
      { outcome: 'failed', reason: message },
      {
        status: willRetry ? 'queued' : 'failed',
        reason: message,
        ...(willRetry ? {} : { finishedAt: new Date().toISOString() }),
      },
    );
    if (willRetry) deps.metrics?.trialReleased();
    else {
      deps.metrics?.trialFinished({ outcome: 'failed', objective: progress.best });
      const trialJson = await writeEndedRecord(
        payload,
        'failed',
        message,
        progress.epochs,
        state.attemptsLog,
      );
      if (trialJson !== undefined) await store.update(payload, { trialJson });
    }
    throw new TrialFailedError(message);
  };

  /**
   * A failure that points at this worker rather than the trial (trainer crash, engine, unexpected
   * error): counted for quarantine; once quarantined, the trial is given back without an attempt.
   */
  const onWorkerFailure = async (
    held: Held,
    code: string,
    message: string,
    progress: TrialProgress,
  ): Promise<never> => {
    if (code === 'ENGINE_UNAVAILABLE') health.quarantine(`engine failed: ${message}`);
    else health.recordWorkerFailure(`${code}: ${message}`);
    if (health.quarantined) {
      deps.metrics?.trialReleased();
      return giveBack(held, 'quarantine', `worker ${deps.workerId} quarantined: ${message}`);
    }
    return failRetryable(held, `${code}: ${message}`, progress);
  };

  /** Records a trial the trainer completed (or early-stopped) and returns the job's result. */
  const onCompleted = async (
    held: Held,
    outcome: Extract<TrialOutcome, { kind: 'completed' }>,
  ): Promise<TrialResult> => {
    const { record } = outcome;
    const ended = record.status === 'early-stopped' ? 'early-stopped' : 'completed';
    await store.endAttempt(
      held.payload,
      deps.workerId,
      { outcome: ended },
      {
        status: record.status,
        reason: record.reason,
        objectiveValue: record.objectiveValue,
        ...(record.trialMetrics !== undefined ? { trialMetrics: record.trialMetrics } : {}),
        epochsCompleted: record.epochs.length,
        finishedAt: record.finishedAt,
        trialJson: outcome.trialJsonKey,
        checkpoints: [...outcome.checkpoints],
      },
    );
    health.recordSuccess();
    deps.metrics?.trialFinished({ outcome: ended, objective: record.objectiveValue });
    return trialResultSchema.parse({
      trialId: held.payload.trialId,
      status: ended,
      ...(record.reason !== undefined ? { reason: record.reason } : {}),
      objectiveValue: record.objectiveValue,
      bestEpoch: record.bestEpoch,
      ...(record.trialMetrics !== undefined ? { trialMetrics: record.trialMetrics } : {}),
      epochsCompleted: record.epochs.length,
      trialJson: outcome.trialJsonKey,
    });
  };

  /** A failure the trainer reported. */
  const onFailed = async (
    held: Held,
    outcome: Extract<TrialOutcome, { kind: 'failed' }>,
    progress: TrialProgress,
  ): Promise<never> => {
    const { code, message } = outcome;
    if (code === 'INFRASTRUCTURE_UNAVAILABLE') {
      return onOutage(held, new WorkerError(code, message), progress);
    }
    if (outcome.retryable) return onWorkerFailure(held, code, message, progress);
    held.log.warn({ code, error: message, willRetry: false }, 'trial failed');
    const state = await store.endAttempt(
      held.payload,
      deps.workerId,
      { outcome: outcome.status, reason: message },
      { status: outcome.status, reason: message, finishedAt: new Date().toISOString() },
    );
    const trialJson =
      outcome.trialJsonKey ??
      (await writeEndedRecord(
        held.payload,
        outcome.status,
        message,
        progress.epochs,
        state.attemptsLog,
      ));
    if (trialJson !== undefined) await store.update(held.payload, { trialJson });
    // The trial is at fault, not the worker: the services answered and the engine worked.
    health.recordSuccess();
    deps.metrics?.trialFinished({ outcome: outcome.status, objective: progress.best });
    throw new UnrecoverableError(`${code}: ${message}`);
  };

  /** Reads the durable stop requests every stopPollMs and relays one to the trainer. */
  const watchStops = (held: Held, trial: RunningTrial): (() => void) => {
    let stopped = false;
    const timer = setInterval(() => {
      pendingStop(deps.redis, deps.keyPrefix, held.payload.sweepId, held.payload.trialId).then(
        (stop) => {
          if (stop === undefined || stopped) return;
          stopped = true;
          held.log.info({ reason: stop.reason }, 'stop request found; stopping the trial');
          trial.stop('cancel', stopMessage(stop));
        },
        () => undefined, // Redis unreachable: the next poll (or the trainer's own writes) notices.
      );
    }, deps.stopPollMs ?? DEFAULT_STOP_POLL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
    };
  };

  const requestFor = (
    payload: TrialPayload,
    state: Pick<TrialState, 'attemptsLog' | 'checkpoints'>,
  ): TrialRunRequest => {
    const { attemptsLog } = state;
    const faults = typeof deps.faults === 'function' ? deps.faults(payload) : deps.faults;
    return {
      payload,
      s3: deps.s3,
      engine: deps.engine,
      ...(deps.engineThreads !== undefined ? { engineThreads: deps.engineThreads } : {}),
      ...(deps.engineKernelQueue !== undefined
        ? { engineKernelQueue: deps.engineKernelQueue }
        : {}),
      workerId: deps.workerId,
      cacheDir: deps.cacheDir,
      downloadConcurrency: deps.downloadConcurrency,
      ...(deps.data !== undefined ? { data: deps.data } : {}),
      ...(deps.limits !== undefined ? { limits: deps.limits } : {}),
      ...(faults !== undefined ? { faults } : {}),
      ...(attemptsLog !== undefined ? { attemptsLog } : {}),
      checkpointRoots: state.checkpoints ?? [],
    };
  };

  /**
   * Starts the trainer for a held job and turns its outcome into the job's result. `firstStart`:
   * the trial's state showed no earlier start or attempt (its epoch list is empty).
   */
  const train = async (
    held: Held,
    signal: AbortSignal | undefined,
    firstStart: boolean,
  ): Promise<TrialResult> => {
    const { job, payload } = held;
    const progress: TrialProgress = { epochs: [], best: null };
    const state = await store.startAttempt(payload, {
      attempt: job.attemptsMade + 1,
      workerId: deps.workerId,
      startedAt: new Date().toISOString(),
    });
    deps.metrics?.trialStarted({ sweepId: payload.sweepId });
    const listenerDeps = {
      job,
      payload,
      store,
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
      log: held.log,
      metrics: deps.metrics,
      onTrainingStarted: () => {
        health.recordSuccess();
      },
      onEpochTensors: deps.onEpochTensors,
      onTrialStarted: deps.onTrialStarted,
      deleteCheckpoints: async (roots: readonly CheckpointRoot[]) => {
        s3Client ??= createS3Client(deps.s3);
        for (const root of roots) {
          await deleteCheckpoint(s3Client, payload.artifactsBucket, root.prefix);
        }
      },
      epochsEmpty: firstStart,
    };
    const trial = launcher(requestFor(payload, state), trialListeners(listenerDeps, progress));
    const cancelReason = active?.cancelReason;
    active = { trialId: payload.trialId, trial };
    if (cancelReason !== undefined) trial.stop('cancel', cancelReason);
    const onAbort = (): void => {
      trial.stop('cancel', 'cancelled on this worker');
    };
    signal?.addEventListener('abort', onAbort);
    // A shutdown requested while the trial process was starting.
    if (shuttingDown) trial.stop('shutdown', SHUTDOWN_MESSAGE);
    const stopWatching = watchStops(held, trial);
    const lost = (): string | undefined =>
      active?.trialId === payload.trialId ? active.lostLock : undefined;
    try {
      let outcome: TrialOutcome;
      try {
        outcome = await trial.outcome;
      } catch (error) {
        const lostReason = lost();
        if (lostReason !== undefined) return leaveLostJob(held, lostReason);
        if (isInfrastructureError(error)) return await onOutage(held, error, progress);
        const code = error instanceof WorkerError ? error.code : 'UNEXPECTED';
        return await onWorkerFailure(held, code, errorMessage(error), progress);
      }
      const lostReason = lost();
      if (lostReason !== undefined) return leaveLostJob(held, lostReason);
      switch (outcome.kind) {
        case 'completed':
          return await onCompleted(held, outcome);
        case 'stopped':
          deps.metrics?.trialReleased();
          return await giveBack(
            held,
            'shutdown',
            `${SHUTDOWN_MESSAGE}; resumes from epoch ${outcome.lastCheckpointEpoch + 1}`,
          );
        case 'failed':
          return await onFailed(held, outcome, progress);
      }
    } finally {
      stopWatching();
      signal?.removeEventListener('abort', onAbort);
    }
  };

  const process = async (
    job: Job<unknown, TrialResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<TrialResult> => {
    const payload = parsePayload(job);
    const held: Held = {
      job,
      token,
      payload,
      log: deps.logger.child({ trialId: payload.trialId, sweepId: payload.sweepId, jobId: job.id }),
    };
    // Held from here on, so a cancel that arrives while the trial starts is remembered.
    active = { trialId: payload.trialId };
    deps.onActiveTrialChange?.();
    try {
      if (shuttingDown) return await giveBack(held, 'shutdown', SHUTDOWN_MESSAGE);
      if (health.quarantined) {
        return await giveBack(held, 'quarantine', `worker ${deps.workerId} is quarantined`);
      }
      // Independent reads: sent together (one wait instead of two).
      const [stop, previous] = await Promise.all([
        stopReason(held),
        store.get(payload.sweepId, payload.trialId),
      ]);
      if (stop !== undefined) return await endCancelled(held, stop);
      if (previous?.status === 'cancelled') {
        // Cancelled while queued (the controller marks such trials): nothing to run.
        throw new UnrecoverableError(
          `TRIAL_CANCELLED: cancelled: ${previous.reason ?? 'before it started'}`,
        );
      }
      const firstStart =
        previous !== undefined &&
        previous.startedAt === undefined &&
        (previous.attemptsLog ?? []).length === 0;
      return await train(held, signal, firstStart);
    } catch (error) {
      const lostReason = active?.lostLock;
      if (lostReason !== undefined && !isJobControlError(error))
        return leaveLostJob(held, lostReason);
      if (isJobControlError(error) || !isInfrastructureError(error)) throw error;
      // Redis or S3 failed outside the trainer (state writes, stop checks).
      return await onOutage(held, error, { epochs: [], best: null });
    } finally {
      active = undefined;
      deps.onActiveTrialChange?.();
    }
  };

  return {
    process,
    cancel(trialIds, reason) {
      if (active === undefined || !trialIds.includes(active.trialId)) return false;
      if (active.trial === undefined) active.cancelReason = reason;
      else active.trial.stop('cancel', reason);
      return true;
    },
    shutdown() {
      shuttingDown = true;
      active?.trial?.stop('shutdown', SHUTDOWN_MESSAGE);
    },
    kill() {
      active?.trial?.kill();
    },
    lockLost(jobId, reason) {
      if (active === undefined || active.trialId !== jobId || active.lostLock !== undefined) {
        return undefined;
      }
      active.lostLock = reason;
      active.trial?.kill();
      return { pendingMove: active.move };
    },
    get activeTrialId() {
      return active?.trialId;
    },
    health,
  };
}
