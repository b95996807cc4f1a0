import { hostname } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

import { ENGINE_NAMES, type EngineName } from '@setrain/engine';
import {
  booleanEnv,
  logEnvShape,
  redisEnvShape,
  redisSentinelOptions,
  requireSentinelPair,
  s3EnvShape,
  s3SettingsFromEnv,
  trialLimitsEnvShape,
  optionalEnvString,
  withoutBlankValues,
  type LogLevel,
  type RedisSentinelOptions,
} from '@setrain/protocol';
import type { S3Config } from '@setrain/storage';
import { z } from 'zod';

import { DEFAULT_DECODED_CACHE_MAX_BYTES } from './decoded-cache.js';
import { DEFAULT_CACHE_MAX_BYTES } from './image-cache.js';
import { DEFAULT_IMAGE_MAX_BYTES, DEFAULT_IMAGE_MAX_PIXELS } from './image-decode.js';
import type { TrialDataOptions } from './trial-data.js';
import type { TrialLimits } from './trainer/trial-limits.js';
import { WorkerError } from './worker-error.js';

/** BullMQ's default lock: the parent process renews it every lockDuration / 2 while a trial runs. */
export const DEFAULT_LOCK_DURATION_MS = 30_000;
export const DEFAULT_STALLED_INTERVAL_MS = 30_000;
/** A job whose worker died is put back this many times before it fails (BullMQ's default is 1). */
export const DEFAULT_MAX_STALLED_COUNT = 2;
/** Images downloaded at once into the cache. */
export const DEFAULT_DOWNLOAD_CONCURRENCY = 8;
/** Port of the Prometheus /metrics endpoint; 0 disables it. */
export const DEFAULT_METRICS_PORT = 9464;
/** How long a worker waits out an unreachable Redis or S3 before failures use attempts again. */
export const DEFAULT_OUTAGE_BUDGET_SECONDS = 300;
/** Consecutive worker-side failures (crash, engine, unexpected) after which a worker quarantines. */
export const DEFAULT_QUARANTINE_AFTER = 3;
/**
 * How long a SIGTERMed worker tries to give its trial back (the trainer stops at its next batch
 * boundary) before it kills the trainer and exits anyway; below the compose file's 2 min grace.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 90;
export const DEFAULT_CACHE_DIR = join(tmpdir(), 'setrain-cache');

const envSchema = z.object({
  ...redisEnvShape,
  ...s3EnvShape,
  ...logEnvShape,
  ...trialLimitsEnvShape,
  SETRAIN_ENGINE: z
    .enum(ENGINE_NAMES, { error: `must be one of ${ENGINE_NAMES.join(', ')}` })
    .default('auto'),
  SETRAIN_ENGINE_THREADS: z.coerce
    .number()
    .int({ error: 'must be an integer from 1 to 1024' })
    .min(1, { error: 'must be an integer from 1 to 1024' })
    .max(1024, { error: 'must be an integer from 1 to 1024' })
    .optional(),
  SETRAIN_ENGINE_KERNEL_QUEUE: booleanEnv.default(true),
  SETRAIN_WORKER_ID: optionalEnvString,
  SETRAIN_CACHE_DIR: optionalEnvString,
  SETRAIN_DOWNLOAD_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(DEFAULT_DOWNLOAD_CONCURRENCY),
  SETRAIN_IMAGE_MAX_PIXELS: z.coerce.number().int().min(1).default(DEFAULT_IMAGE_MAX_PIXELS),
  SETRAIN_IMAGE_MAX_BYTES: z.coerce.number().int().min(1).default(DEFAULT_IMAGE_MAX_BYTES),
  SETRAIN_CACHE_MAX_BYTES: z.coerce.number().int().min(0).default(DEFAULT_CACHE_MAX_BYTES),
  SETRAIN_DECODED_CACHE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_DECODED_CACHE_MAX_BYTES),
  SETRAIN_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(DEFAULT_LOCK_DURATION_MS),
  SETRAIN_STALLED_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(DEFAULT_STALLED_INTERVAL_MS),
  SETRAIN_MAX_STALLED_COUNT: z.coerce
    .number()
    .int()
    .min(0)
    .max(100)
    .default(DEFAULT_MAX_STALLED_COUNT),
  SETRAIN_OUTAGE_BUDGET_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(DEFAULT_OUTAGE_BUDGET_SECONDS),
  SETRAIN_QUARANTINE_AFTER: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(DEFAULT_QUARANTINE_AFTER),
  SETRAIN_SHUTDOWN_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(DEFAULT_SHUTDOWN_TIMEOUT_SECONDS),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_METRICS_PORT),
});

/** Every variable the worker reads (the compose file's worker environment is checked against it). */
export const WORKER_ENV_VARS: readonly string[] = Object.keys(envSchema.shape);

/** The worker's configuration, read once from the environment by {@link loadWorkerConfig}. */
export interface WorkerConfig {
  readonly redisUrl: string;
  /** Set with REDIS_SENTINELS and REDIS_SENTINEL_MASTER: connect through Sentinel. */
  readonly redisSentinel?: RedisSentinelOptions | undefined;
  /** Prefix of BullMQ's and setrain's Redis keys; must match the API's. */
  readonly keyPrefix: string;
  readonly s3: S3Config;
  /** tfjs engine to train on (`auto` picks the best present). */
  readonly engine: EngineName;
  /** CPU threads each training process uses on engines that use several (native); undefined:
   * every core. Several workers on one machine should split its cores: oversubscribed OpenMP
   * threads wait for each other at every kernel, and a step ran 13x slower. */
  readonly engineThreads: number | undefined;
  /** native engine: kernels on a background thread while tfjs builds the next ops (true, default);
   * false runs each inside its call, so a failing kernel throws where its op is called. */
  readonly engineKernelQueue: boolean;
  /** Names this worker in trial state, trial.json provenance and logs. Default `<hostname>-<pid>`. */
  readonly workerId: string;
  /** Content-addressed image cache shared by every trial on this machine. */
  readonly cacheDir: string;
  readonly downloadConcurrency: number;
  /** Image pixel and byte caps and the two caches' byte budgets; defaults when absent. */
  readonly data?: TrialDataOptions;
  /** Memory budget per trial and data buckets, re-checked on every trial; defaults when absent. */
  readonly limits?: TrialLimits;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly metricsPort: number;
  readonly logLevel: LogLevel;
  /**
   * Seconds of an outage (Redis or S3 unreachable, timeouts, 5xx) a worker waits out by giving its
   * trials back without using attempts; past it, such failures use attempts. Default
   * DEFAULT_OUTAGE_BUDGET_SECONDS.
   */
  readonly outageBudgetSeconds?: number;
  /** Consecutive worker-side failures before the worker quarantines. Default DEFAULT_QUARANTINE_AFTER. */
  readonly quarantineAfter?: number;
  /**
   * Seconds a graceful stop may take before the worker kills its trainer and exits anyway. Default
   * DEFAULT_SHUTDOWN_TIMEOUT_SECONDS.
   */
  readonly shutdownTimeoutSeconds?: number;
}

/** Parses the worker's environment; throws WorkerError WORKER_CONFIG_INVALID naming each bad variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const result = envSchema.superRefine(requireSentinelPair).safeParse(withoutBlankValues(env));
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${String(issue.path[0] ?? '')}: ${issue.message}`,
    );
    throw new WorkerError(
      'WORKER_CONFIG_INVALID',
      `invalid worker configuration: ${problems.join('; ')}`,
    );
  }
  const e = result.data;
  const s3: S3Config = s3SettingsFromEnv(e);
  return Object.freeze({
    redisUrl: e.REDIS_URL,
    redisSentinel: redisSentinelOptions(e),
    keyPrefix: e.SETRAIN_KEY_PREFIX,
    s3,
    engine: e.SETRAIN_ENGINE,
    engineThreads: e.SETRAIN_ENGINE_THREADS,
    engineKernelQueue: e.SETRAIN_ENGINE_KERNEL_QUEUE,
    workerId: e.SETRAIN_WORKER_ID ?? `${hostname()}-${process.pid}`,
    cacheDir: e.SETRAIN_CACHE_DIR ?? DEFAULT_CACHE_DIR,
    downloadConcurrency: e.SETRAIN_DOWNLOAD_CONCURRENCY,
    data: Object.freeze({
      imageLimits: Object.freeze({
        maxPixels: e.SETRAIN_IMAGE_MAX_PIXELS,
        maxBytes: e.SETRAIN_IMAGE_MAX_BYTES,
      }),
      cacheMaxBytes: e.SETRAIN_CACHE_MAX_BYTES,
      decodedCacheMaxBytes: e.SETRAIN_DECODED_CACHE_MAX_BYTES,
    }),
    limits: Object.freeze({
      maxTrialMemoryBytes: e.SETRAIN_MAX_TRIAL_MEMORY_BYTES,
      dataBuckets: Object.freeze([...e.SETRAIN_DATA_BUCKETS]),
    }),
    lockDurationMs: e.SETRAIN_LOCK_DURATION_MS,
    stalledIntervalMs: e.SETRAIN_STALLED_INTERVAL_MS,
    maxStalledCount: e.SETRAIN_MAX_STALLED_COUNT,
    metricsPort: e.METRICS_PORT,
    logLevel: e.LOG_LEVEL,
    outageBudgetSeconds: e.SETRAIN_OUTAGE_BUDGET_SECONDS,
    quarantineAfter: e.SETRAIN_QUARANTINE_AFTER,
    shutdownTimeoutSeconds: e.SETRAIN_SHUTDOWN_TIMEOUT_SECONDS,
  });
}
