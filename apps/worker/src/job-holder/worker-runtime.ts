import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  redisTargetOf,
  TRIALS_QUEUE,
  watchRedisReachability,
  type TrialResult,
} from '@setrain/protocol';

import {
  DEFAULT_OUTAGE_BUDGET_SECONDS,
  DEFAULT_QUARANTINE_AFTER,
  DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  type WorkerConfig,
} from '../config.js';
import { errorMessage, WorkerError } from '../worker-error.js';
import { LockWatchdog } from './lock-watchdog.js';
import { creditLostLock } from './stall-credit.js';
import { forkPreflight, type PreflightRunner } from './trainer-launcher.js';
import { WorkerHealth } from './worker-health.js';
import { subscribeToControl, type ControlSubscription } from './control-subscriber.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { createLogger, type Logger } from '../logger.js';
import { createWorkerMetrics, startMetricsServer, type WorkerMetrics } from '../metrics.js';
import {
  createTrialProcessor,
  type TrialProcessor,
  type TrialProcessorDeps,
} from './trial-job-processor.js';

/** Options of {@link startWorker} beyond the config. */
export interface StartWorkerOptions {
  readonly config: WorkerConfig;
  readonly logger?: Logger;
  /** Overrides of the processor's dependencies (tests: launcher, faults, hooks). */
  readonly processor?: Partial<
    Pick<
      TrialProcessorDeps,
      'launcher' | 'faults' | 'onEpochTensors' | 'onTrialStarted' | 'stopPollMs'
    >
  >;
  /** Checks the engine before the worker takes jobs. Default: one tiny step in a trainer process. */
  readonly preflight?: PreflightRunner;
}

/** A running worker: the BullMQ worker, its processor and its connections. */
export interface WorkerRuntime {
  readonly worker: Worker;
  readonly processor: TrialProcessor;
  /** Preflight, outage and quarantine state (what `/readyz` answers). */
  readonly health: WorkerHealth;
  /** The worker's Prometheus registry (served on METRICS_PORT unless 0). */
  readonly metrics: WorkerMetrics;
  /**
   * Graceful stop: the running trial stops at its next batch boundary and its job goes back to the
   * queue without using an attempt (it resumes from its last epoch checkpoint); then every
   * connection closes. Bounded by `shutdownTimeoutSeconds`: past it (Redis unreachable, a batch
   * that does not end) the trainer is killed, every connection dropped, and close rejects with
   * SHUTDOWN_TIMEOUT; a job not given back is put back by BullMQ's stall check once its lock
   * expires.
   */
  close(): Promise<void>;
}

/**
 * Runs the engine preflight; throws WorkerError ENGINE_UNAVAILABLE naming the engine and the fix
 * when it fails (the worker must not take trials it cannot train).
 */
async function checkEngine(
  config: WorkerConfig,
  preflight: PreflightRunner,
  logger: Logger,
): Promise<void> {
  const result = await preflight({
    engine: config.engine,
    ...(config.engineThreads === undefined ? {} : { engineThreads: config.engineThreads }),
    engineKernelQueue: config.engineKernelQueue,
  });
  if (!result.ok) {
    throw new WorkerError(
      'ENGINE_UNAVAILABLE',
      `engine preflight failed: SETRAIN_ENGINE=${config.engine} cannot initialise and train here: ${result.message}. ` +
        `Fix: install what that engine needs (see the README's Engines section) or set SETRAIN_ENGINE to an engine that loads on this machine (auto picks the best one present).`,
    );
  }
  logger.info(
    {
      engine: result.engine,
      description: result.description,
      seconds: Math.round(result.seconds * 10) / 10,
    },
    'engine preflight passed',
  );
}

/**
 * Checks the engine (preflight), connects to Redis, subscribes to the control channel and starts
 * taking trials (concurrency 1). Readiness (`/readyz`) is false until the preflight passes.
 */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerRuntime> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel, { workerId: config.workerId });
  const metrics = createWorkerMetrics({ workerId: config.workerId });
  // Set once the BullMQ worker exists (after the preflight); quarantine pauses it.
  const started: { worker?: Worker<unknown, TrialResult> } = {};
  // Set once the heartbeat runs; the processor refreshes it whenever its trial changes.
  const beating: { heartbeat?: Heartbeat } = {};
  const health = new WorkerHealth({
    outageBudgetSeconds: config.outageBudgetSeconds ?? DEFAULT_OUTAGE_BUDGET_SECONDS,
    quarantineAfter: config.quarantineAfter ?? DEFAULT_QUARANTINE_AFTER,
    logger,
    metrics,
    // Stop taking jobs; the running one (if any) is given back by the processor.
    onQuarantine: () => void started.worker?.pause(true),
  });
  const metricsServer =
    config.metricsPort > 0
      ? await startMetricsServer(metrics, {
          port: config.metricsPort,
          notReadyReason: () => health.notReadyReason(),
        })
      : undefined;
  try {
    await checkEngine(config, options.preflight ?? forkPreflight(), logger);
  } catch (error) {
    await metricsServer?.close();
    throw error;
  }
  health.preflightSucceeded();
  // Each connection's failures are logged (throttled, with what to do) rather than printed by
  // ioredis at every retry; while Redis is unreachable the worker waits here for it.
  const watched = (connection: string, redis: Redis): Redis => {
    watchRedisReachability(redis, {
      target: redisTargetOf(config.redisUrl, config.redisSentinel),
      connection,
      log: logger,
    });
    return redis;
  };
  // BullMQ workers block on Redis; they need unlimited retries per request.
  const bullConnection = watched(
    'bullmq',
    new Redis(config.redisUrl, { ...config.redisSentinel, maxRetriesPerRequest: null }),
  );
  const stateConnection = watched(
    'state',
    new Redis(config.redisUrl, { ...config.redisSentinel, maxRetriesPerRequest: 3 }),
  );
  const lockDurationMs = config.lockDurationMs;
  // Set once the BullMQ worker exists: the key of a job's hash, for the stall credit.
  const jobKey: { of?: (jobId: string) => string } = {};
  // Stall credits not yet answered: a graceful stop waits for them before it drops the connection.
  const credits = new Set<Promise<void>>();
  const watchdog = new LockWatchdog({
    lockDurationMs,
    onLost: (jobId, reason) => {
      const lost = processor.lockLost(jobId, reason);
      if (lost === undefined) return;
      logger.warn({ trialId: jobId, reason }, 'job lock lost; the trainer was stopped');
      const key = jobKey.of?.(jobId);
      if (key === undefined) return;
      const credit = creditLostLock(bullConnection, key, lost.pendingMove).then(
        (settled) => {
          logger.info({ trialId: jobId, settled }, 'stall of the lost lock settled');
        },
        (error: unknown) => {
          logger.warn({ trialId: jobId, error: errorMessage(error) }, 'stall credit failed');
        },
      );
      credits.add(credit);
      void credit.finally(() => credits.delete(credit));
    },
  });
  const processor = createTrialProcessor({
    metrics,
    redis: stateConnection,
    keyPrefix: config.keyPrefix,
    workerId: config.workerId,
    s3: config.s3,
    engine: config.engine,
    engineThreads: config.engineThreads,
    engineKernelQueue: config.engineKernelQueue,
    cacheDir: config.cacheDir,
    downloadConcurrency: config.downloadConcurrency,
    data: config.data,
    limits: config.limits,
    logger,
    health,
    onActiveTrialChange: () => {
      watchdog.follow(processor.activeTrialId);
      beating.heartbeat?.trialChanged();
    },
    ...options.processor,
  });
  let control: ControlSubscription | undefined;
  try {
    control = await subscribeToControl(
      watched(
        'control',
        new Redis(config.redisUrl, { ...config.redisSentinel, maxRetriesPerRequest: null }),
      ),
      config.keyPrefix,
      (message) => {
        if (message.type === 'cancel' && processor.cancel(message.trialIds, message.reason)) {
          logger.info(
            {
              trialId: processor.activeTrialId,
              reason: message.reason,
            },
            'cancelling the running trial',
          );
        }
      },
      logger,
    );
  } catch (error) {
    watchdog.stop();
    bullConnection.disconnect();
    stateConnection.disconnect();
    throw error;
  }
  const worker = new Worker<unknown, TrialResult>(
    TRIALS_QUEUE,
    (job, token, signal) => processor.process(job, token, signal),
    {
      connection: bullConnection,
      prefix: config.keyPrefix,
      // One accelerator, one trial.
      concurrency: 1,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
    },
  );
  started.worker = worker;
  jobKey.of = (jobId) => worker.toKey(jobId);
  worker.on('locksRenewed', ({ jobIds }) => {
    watchdog.renewed(jobIds);
  });
  worker.on('lockRenewalFailed', (jobIds) => {
    watchdog.renewalFailed(jobIds);
  });
  worker.on('failed', (job, error) => {
    logger.warn({ jobId: job?.id, error: error.message }, 'job failed');
  });
  worker.on('error', (error) => {
    logger.error({ error: error.message }, 'worker error');
  });
  await worker.waitUntilReady();
  const heartbeat = await startHeartbeat({
    redis: stateConnection,
    prefix: config.keyPrefix,
    workerId: config.workerId,
    engine: config.engine,
    activeTrialId: () => processor.activeTrialId,
    logger,
  });
  beating.heartbeat = heartbeat;
  logger.info(
    {
      queue: TRIALS_QUEUE,
      prefix: config.keyPrefix,
      engine: config.engine,
    },
    'worker started',
  );

  const subscription = control;
  const gracefulStop = async (): Promise<void> => {
    processor.shutdown();
    await worker.close();
    await subscription?.close();
    await heartbeat.stop();
    await stateConnection.quit().catch(() => undefined);
    await metricsServer?.close();
    watchdog.stop();
    // A SIGTERM during an outage longer than 80% of the lock: the credit of the lost lock goes out
    // once Redis answers, which must be before the shutdown timeout (see forceStop).
    await Promise.all(credits);
    bullConnection.disconnect();
    logger.info('worker stopped');
  };
  const timeoutMs = (config.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS) * 1000;
  /**
   * Past the shutdown timeout: nothing left running, nothing left connected. When Redis has been
   * unreachable all along, the job was neither given back nor its lost lock's stall credited (both
   * wait in bullConnection's queue, dropped here): BullMQ's stall check counts one stall once the
   * lock expires. That stall cannot be avoided: the process must exit before Redis answers, and
   * Redis is the only place the credit could go. It is the only way an outage costs a trial
   * anything, one of its SETRAIN_MAX_STALLED_COUNT stalls (default 2, over the job's whole life,
   * shared with worker deaths); the attempt is not used.
   */
  const forceStop = (): WorkerError => {
    processor.kill();
    watchdog.stop();
    void worker.close(true).catch(() => undefined);
    void subscription?.close().catch(() => undefined);
    stateConnection.disconnect();
    bullConnection.disconnect();
    void metricsServer?.close().catch(() => undefined);
    const message = `the graceful stop did not finish within ${timeoutMs / 1000} s (SETRAIN_SHUTDOWN_TIMEOUT_SECONDS; Redis unreachable?): the trainer was killed and the connections dropped; a trial not given back returns to the queue when its lock expires (BullMQ's stall check) and resumes from its last checkpoint`;
    logger.error({ trialId: processor.activeTrialId }, message);
    return new WorkerError('SHUTDOWN_TIMEOUT', message);
  };

  let closing: Promise<void> | undefined;
  return {
    worker,
    processor,
    metrics,
    health,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(forceStop());
        }, timeoutMs);
        gracefulStop().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
      return closing;
    },
  };
}
