/**
 * A whole setrain stack on one machine, for the demo and end-to-end tests: a real redis-server, an
 * S3-compatible server (s3rver), the API process and N worker processes, each started from the
 * TypeScript sources exactly as `npm run` would start them in production (their own main.ts, their
 * own config from the environment).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import {
  freePort,
  startRedis,
  startS3,
  API_MAIN,
  s3EnvOf,
  startNodeService,
  WORKER_MAIN,
  tempDir,
  waitFor,
  type RedisServer,
  type S3Server,
  type ServiceProcess,
  type TempDir,
} from '../harness/index.js';

export const DEFAULT_STACK_WORKERS = 2;
export const DEFAULT_STACK_START_TIMEOUT_MS = 60_000;

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Worker processes to start. Default 2. */
  workers?: number;
  /** SETRAIN_ENGINE of the workers. Default auto. */
  engine?: string;
  /** Reuse this Redis instead of starting one (its keys go under a fresh prefix). */
  redisUrl?: string;
  /** Extra environment for every worker (e.g. short lock durations in tests). By default each
   * worker gets SETRAIN_ENGINE_THREADS = cores / workers. */
  workerEnv?: Record<string, string>;
  /** Extra environment for the API. */
  apiEnv?: Record<string, string>;
  /** How long to wait for each process to become ready. Default 60 s. */
  startTimeoutMs?: number;
}

export interface LocalStack {
  apiUrl: string;
  apiKey: string;
  redisUrl: string;
  keyPrefix: string;
  s3: S3Server;
  /** Bucket for datasets and run artifacts. */
  bucket: string;
  api: ServiceProcess;
  workers: ServiceProcess[];
  /** Environment a CLI process needs to reach this stack (API URL and key, S3 endpoint). */
  cliEnv: Record<string, string>;
  /** Starts one more worker (e.g. after killing one). */
  startWorker(id?: string): Promise<ServiceProcess>;
  /** Stops everything started here; idempotent. */
  stop(): Promise<void>;
}

/** Starts Redis (unless given), S3, the API and the workers; stops what started if any step fails. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started: { stop(): Promise<void> }[] = [];
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_STACK_START_TIMEOUT_MS;
  try {
    let redis: RedisServer | undefined;
    if (!options.redisUrl) {
      redis = await startRedis();
      started.push(redis);
    }
    const redisUrl = options.redisUrl ?? redis?.url ?? '';
    const s3 = await startS3();
    started.push(s3);
    const bucket = await s3.createBucket(`setrain-${randomBytes(4).toString('hex')}`);
    const work: TempDir = await tempDir('stack');
    started.push({ stop: () => work.cleanup() });
    const keyPrefix = `{setrain-${randomBytes(4).toString('hex')}}`;
    const apiKey = randomBytes(16).toString('hex');
    const s3Env = s3EnvOf(s3);
    const apiPort = await freePort();
    const api = startNodeService('setrain-api', API_MAIN, {
      ...s3Env,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      SETRAIN_KEY_PREFIX: keyPrefix,
      SETRAIN_API_KEYS: apiKey,
      SETRAIN_ARTIFACTS_BUCKET: bucket,
      LOG_LEVEL: 'warn',
      ...options.apiEnv,
    });
    started.push(api);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitReady(api, `${apiUrl}/readyz`, timeoutMs);
    const workers: ServiceProcess[] = [];
    const workerTotal = options.workers ?? DEFAULT_STACK_WORKERS;
    let workerCount = 0;
    const startWorker = async (id?: string): Promise<ServiceProcess> => {
      workerCount++;
      const workerId = id ?? `worker-${workerCount}`;
      const metricsPort = await freePort();
      const worker = startNodeService(`setrain-${workerId}`, WORKER_MAIN, {
        ...s3Env,
        REDIS_URL: redisUrl,
        SETRAIN_KEY_PREFIX: keyPrefix,
        SETRAIN_ENGINE: options.engine ?? 'auto',
        // The workers share this machine's cores, as the README tells several workers to.
        SETRAIN_ENGINE_THREADS: String(
          Math.max(1, Math.floor(availableParallelism() / workerTotal)),
        ),
        SETRAIN_WORKER_ID: workerId,
        SETRAIN_CACHE_DIR: join(work.path, `cache-${workerId}`),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
        ...options.workerEnv,
      });
      started.push(worker);
      workers.push(worker);
      await waitReady(worker, `http://127.0.0.1:${metricsPort}/metrics`, timeoutMs);
      return worker;
    };
    for (let i = 0; i < workerTotal; i++) await startWorker();
    let stopping: Promise<void> | undefined;
    return {
      apiUrl,
      apiKey,
      redisUrl,
      keyPrefix,
      s3,
      bucket,
      api,
      workers,
      cliEnv: { SETRAIN_API_URL: apiUrl, SETRAIN_API_KEY: apiKey, ...s3Env },
      startWorker,
      stop: () => (stopping ??= stopAll(started)),
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

/** Waits until `url` answers 2xx, failing at once (with the service's output) if the service exits. */
async function waitReady(service: ServiceProcess, url: string, timeoutMs: number): Promise<void> {
  const ready = waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, {
    timeoutMs,
    what: `${service.name} to answer ${url}`,
  });
  const exited = service.exited.then((exit) => {
    throw new Error(
      `${service.name} exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${service.output()}`,
    );
  });
  // The service will exit later, when stopped: that must not surface as an unhandled rejection.
  exited.catch(() => undefined);
  await Promise.race([ready, exited]);
}

async function stopAll(started: { stop(): Promise<void> }[]): Promise<void> {
  // Workers and the API first (they checkpoint and close connections), then S3 and Redis.
  for (const service of [...started].reverse()) {
    await service.stop().catch(() => undefined);
  }
}
