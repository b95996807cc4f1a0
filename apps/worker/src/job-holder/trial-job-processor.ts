import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  runKeys,
  type EpochMetrics,
  type TrialRecord,
  isBetter,
  trialPayloadSchema,
  trialResultSchema,
  type TrialPayload,
  type TrialResult,
} from '@setrain/protocol';

import { decideAfterEpoch } from './early-stopping.js';
import type { Logger } from '../logger.js';
import type { WorkerMetrics } from '../metrics.js';
import { WORKER_PACKAGE_VERSION } from '../package-version.js';
import { objectiveOf } from '../objective.js';
import { buildTrialRecord, writeTrialRecord } from '../trial-record.js';
import type { TrialDataOptions } from '../trial-data.js';
import type { TrialFaults, TrialRunRequest, TrialStarted } from '../trial-ipc.js';
import { forkTrialLauncher, type RunningTrial, type TrialLauncher } from './trainer-launcher.js';
import { TrialStateStore } from './trial-state-store.js';
import { errorMessage, WorkerError } from '../worker-error.js';
import type { EngineName } from '@setrain/engine';
import { createS3Client, type S3Config } from '@setrain/storage';

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
  readonly cacheDir: string;
  readonly downloadConcurrency: number;
  /** Image limits and cache budgets passed to each trial; defaults when absent. */
  readonly data?: TrialDataOptions | undefined;
  readonly logger: Logger;
  /** Prometheus metrics of this worker; trial processes report into it over IPC. */
  readonly metrics?: WorkerMetrics;
  /** Starts trial processes. Default: fork one per trial. */
  readonly launcher?: TrialLauncher;
  /** Test hook: faults the trial process injects, for every trial or chosen per trial. */
  readonly faults?: TrialFaults | ((payload: TrialPayload) => TrialFaults | undefined);
  /** Called with each epoch's tensor count (tests check for leaks). */
  readonly onEpochTensors?: (trialId: string, epoch: number, numTensors: number) => void;
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
  /** Cancels the named trials if one runs here; true when it did. */
  cancel(trialIds: readonly string[], reason: string): boolean;
  /**
   * Asks the running trial (if any) to stop at its next batch boundary and give its job back to the
   * queue without counting an attempt; new jobs are given back at once.
   */
  shutdown(): void;
  /** The trial running here, if any. */
  readonly activeTrialId: string | undefined;
}

const SHUTDOWN_MESSAGE = 'the worker is shutting down';

/** Builds the trial processor (one trial at a time: the worker runs it with concurrency 1). */
export function createTrialProcessor(deps: TrialProcessorDeps): TrialProcessor {
  const store = new TrialStateStore(deps.redis, deps.keyPrefix);
  const launcher = deps.launcher ?? forkTrialLauncher();
  /** The trial held now; `trial` is unset until its process starts, `cancelReason` set by an early cancel. */
  let active: { trialId: string; trial?: RunningTrial; cancelReason?: string } | undefined;
  let shuttingDown = false;

  let s3Client: S3Client | undefined;
  const writeEndedRecord = async (
    payload: TrialPayload,
    status: TrialRecord['status'],
    reason: string,
    epochs: readonly EpochMetrics[],
  ): Promise<string> => {
    s3Client ??= createS3Client(deps.s3);
    const record = buildTrialRecord(payload, {
      status,
      reason,
      epochs,
      provenance: {
        dataset: payload.dataset,
        seed: payload.training.seed,
        packageVersion: WORKER_PACKAGE_VERSION,
        workerId: deps.workerId,
      },
    });
    const key = runKeys(payload.sweepId).trial(payload.trialId).trialJson;
    await writeTrialRecord(s3Client, payload.artifactsBucket, key, record);
    return key;
  };

  const giveBack = async (
    job: Job,
    token: string | undefined,
    payload: TrialPayload,
    reason: string,
  ): Promise<never> => {
    await store.update(payload, { status: 'queued', reason, workerId: undefined });
    // Back to wait without a failure: attemptsMade is not incremented, so a shutdown never uses up a retry.
    await job.moveToWait(token);
    throw new WaitingError();
  };

  const process = async (
    job: Job<unknown, TrialResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<TrialResult> => {
    const parsed = trialPayloadSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        `TRIAL_PAYLOAD_INVALID: job ${job.id ?? '?'} is not a trial payload: ${parsed.error.issues
          .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
          .join('; ')}`,
      );
    }
    const payload = parsed.data;
    const log = deps.logger.child({
      trialId: payload.trialId,
      sweepId: payload.sweepId,
      jobId: job.id,
    });
    if (shuttingDown) return giveBack(job, token, payload, SHUTDOWN_MESSAGE);
    const previous = await store.get(payload.sweepId, payload.trialId);
    if (previous?.status === 'cancelled') {
      // Cancelled while queued (the controller marks such trials): nothing to run.
      throw new UnrecoverableError(
        `TRIAL_CANCELLED: cancelled: ${previous.reason ?? 'before it started'}`,
      );
    }
    // Held from here on, so a cancel that arrives while the trial process starts is not lost.
    active = { trialId: payload.trialId };

    await store.update(payload, {
      status: 'running',
      workerId: deps.workerId,
      startedAt: new Date().toISOString(),
      attempts: job.attemptsMade + 1,
      reason: undefined,
    });
    let best: number | null = null;
    const epochs: EpochMetrics[] = [];
    const faults = typeof deps.faults === 'function' ? deps.faults(payload) : deps.faults;
    const request: TrialRunRequest = {
      payload,
      s3: deps.s3,
      engine: deps.engine,
      ...(deps.engineThreads !== undefined ? { engineThreads: deps.engineThreads } : {}),
      workerId: deps.workerId,
      cacheDir: deps.cacheDir,
      downloadConcurrency: deps.downloadConcurrency,
      ...(deps.data !== undefined ? { data: deps.data } : {}),
      ...(faults !== undefined ? { faults } : {}),
    };
    deps.metrics?.trialStarted({ sweepId: payload.sweepId });
    const trial = launcher(request, {
      onMetric: (event) => deps.metrics?.apply(event),
      onStarted: async (started) => {
        log.info(
          {
            engine: started.engine,
            resumedFromEpoch: started.resumedFromEpoch,
            downloaded: started.downloaded,
            cached: started.cached,
          },
          'trial started',
        );
        deps.onTrialStarted?.(payload.trialId, started);
        epochs.splice(0, epochs.length, ...started.history);
        await store.resetEpochs(payload.trialId, started.history);
        for (const metrics of started.history) {
          const value = objectiveOf(metrics, payload.objective);
          if (
            value !== undefined &&
            (best === null || isBetter(payload.objective.goal, value, best))
          )
            best = value;
        }
        await store.update(payload, {
          epochsCompleted: started.history.length,
          objectiveValue: best,
        });
      },
      onBatch: async (progress) => {
        await job.updateProgress({ ...progress, epochs: payload.training.epochs });
      },
      onEpoch: async (metrics, numTensors) => {
        deps.onEpochTensors?.(payload.trialId, metrics.epoch, numTensors);
        epochs.push(metrics);
        const value = objectiveOf(metrics, payload.objective);
        if (value !== undefined && (best === null || isBetter(payload.objective.goal, value, best)))
          best = value;
        await store.appendEpoch(payload.trialId, metrics);
        await store.update(payload, {
          epochsCompleted: metrics.epoch,
          latest: metrics,
          objectiveValue: best,
        });
        await job.updateProgress({
          epoch: metrics.epoch,
          epochs: payload.training.epochs,
          metrics,
        });
        log.info(
          {
            epoch: metrics.epoch,
            val_loss: metrics.val_loss,
            durationMs: metrics.durationMs,
          },
          'epoch done',
        );
      },
      onDecide: async (epoch) => {
        try {
          const decision = await decideAfterEpoch(deps.redis, deps.keyPrefix, payload, epoch);
          if (decision.action === 'stop') {
            log.info({ epoch, reason: decision.reason }, 'trial early-stopped');
            // Recorded at once; the trial ends early-stopped once final/ and trial.json are written.
            await store.update(payload, { reason: decision.reason });
          }
          return decision;
        } catch (error) {
          log.warn(
            {
              epoch,
              error: errorMessage(error),
            },
            'early-stopping decision failed; the trial goes on',
          );
          return { action: 'continue' };
        }
      },
    });
    const cancelReason = active?.cancelReason;
    active = { trialId: payload.trialId, trial };
    if (cancelReason !== undefined) trial.stop('cancel', cancelReason);
    const onAbort = (): void => trial.stop('cancel', 'cancelled on this worker');
    signal?.addEventListener('abort', onAbort);
    // A shutdown requested while the trial process was starting.
    if (shuttingDown) trial.stop('shutdown', SHUTDOWN_MESSAGE);
    try {
      let outcome;
      try {
        outcome = await trial.outcome;
      } catch (error) {
        const willRetry = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
        const message = errorMessage(error);
        log.error({ error: message, willRetry }, 'trial process failed');
        if (willRetry) deps.metrics?.trialReleased();
        else deps.metrics?.trialFinished({ outcome: 'failed', objective: best });
        await store.update(payload, {
          status: willRetry ? 'queued' : 'failed',
          reason: message,
          finishedAt: willRetry ? undefined : new Date().toISOString(),
        });
        throw error instanceof WorkerError ? new Error(`${error.code}: ${message}`) : error;
      }
      switch (outcome.kind) {
        case 'completed': {
          const { record } = outcome;
          await store.update(payload, {
            status: record.status,
            reason: record.reason,
            objectiveValue: record.objectiveValue,
            epochsCompleted: record.epochs.length,
            finishedAt: record.finishedAt,
            trialJson: outcome.trialJsonKey,
          });
          const ended = record.status === 'early-stopped' ? 'early-stopped' : 'completed';
          deps.metrics?.trialFinished({ outcome: ended, objective: record.objectiveValue });
          return trialResultSchema.parse({
            trialId: payload.trialId,
            status: ended,
            ...(record.reason !== undefined ? { reason: record.reason } : {}),
            objectiveValue: record.objectiveValue,
            bestEpoch: record.bestEpoch,
            epochsCompleted: record.epochs.length,
            trialJson: outcome.trialJsonKey,
          });
        }
        case 'stopped':
          deps.metrics?.trialReleased();
          log.info(
            {
              lastCheckpointEpoch: outcome.lastCheckpointEpoch,
            },
            'trial stopped for shutdown',
          );
          return await giveBack(
            job,
            token,
            payload,
            `${SHUTDOWN_MESSAGE}; resumes from epoch ${outcome.lastCheckpointEpoch + 1}`,
          );
        case 'failed': {
          const willRetry = outcome.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
          log.warn({ code: outcome.code, error: outcome.message, willRetry }, 'trial failed');
          let trialJsonKey = outcome.trialJsonKey;
          if (trialJsonKey === undefined && !willRetry) {
            // The trial process was killed (a cancel past its grace period) before it could
            // write trial.json: record the ending from here, with the epochs it reported.
            trialJsonKey = await writeEndedRecord(
              payload,
              outcome.status,
              outcome.message,
              epochs,
            ).catch((error: unknown) => {
              log.warn({ error: errorMessage(error) }, 'could not write trial.json');
              return undefined;
            });
          }
          await store.update(payload, {
            status: willRetry ? 'queued' : outcome.status,
            reason: outcome.message,
            ...(willRetry ? {} : { finishedAt: new Date().toISOString() }),
            ...(trialJsonKey !== undefined ? { trialJson: trialJsonKey } : {}),
          });
          if (willRetry) deps.metrics?.trialReleased();
          else deps.metrics?.trialFinished({ outcome: outcome.status, objective: best });
          const message = `${outcome.code}: ${outcome.message}`;
          throw outcome.retryable ? new Error(message) : new UnrecoverableError(message);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      active = undefined;
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
    get activeTrialId() {
      return active?.trialId;
    },
  };
}
