/**
 * The processes one chaos scenario runs on: Redis with AOF (or a Sentinel topology), a restartable
 * s3rver, one or two API processes and two or more worker processes, all started from the
 * TypeScript sources as `npm run` would start them. Every scenario gets a fresh stack.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { TRIALS_QUEUE } from '@setrain/protocol';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import {
  freePort,
  startServiceProcess,
  tempDir,
  waitFor,
  type ServiceProcess,
  type TempDir,
} from '../harness/index.js';
import {
  s3Client,
  SENTINEL_MASTER,
  startAofRedis,
  startRestartableS3,
  startSentinelTopology,
  type RestartableS3,
  type RestartableService,
  type SentinelTopology,
} from './services.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_MAIN = join(REPO_ROOT, 'apps/api/src/main.ts');
const WORKER_MAIN = join(REPO_ROOT, 'apps/worker/src/main.ts');
const READY_TIMEOUT_MS = 90_000;

/** Options of {@link startChaosStack}. */
export interface ChaosStackOptions {
  /** Worker processes. Default 2. */
  workers?: number;
  /** API replicas. Default 1. */
  apis?: number;
  /** SETRAIN_ENGINE of the workers. Default auto (native if its addon loads, else wasm). */
  engine?: string;
  /** Redis behind three sentinels (primary + replica) instead of one redis-server. */
  sentinel?: boolean;
  /** Extra worker environment. */
  workerEnv?: Record<string, string>;
}

/** A worker process with the id it was started with. */
export interface ChaosWorker {
  readonly id: string;
  readonly process: ServiceProcess;
}

export class ChaosStack {
  readonly apis: ServiceProcess[] = [];
  readonly workers: ChaosWorker[] = [];
  private workerCount = 0;
  private readonly extra: { stop(): Promise<void> }[] = [];

  private constructor(
    readonly work: TempDir,
    readonly redis: RestartableService | undefined,
    readonly sentinel: SentinelTopology | undefined,
    readonly s3: RestartableS3,
    readonly s3Client: S3Client,
    readonly bucket: string,
    readonly keyPrefix: string,
    readonly apiKey: string,
    readonly apiPorts: number[],
    private readonly options: ChaosStackOptions,
  ) {}

  static async start(options: ChaosStackOptions = {}): Promise<ChaosStack> {
    const work = await tempDir('chaos');
    let stack: ChaosStack | undefined;
    try {
      const sentinel = options.sentinel === true ? await startSentinelTopology(work) : undefined;
      const redis = sentinel === undefined ? await startAofRedis(work) : undefined;
      const s3 = await startRestartableS3(work);
      const client = s3Client(s3);
      const bucket = `chaos-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const apiPorts: number[] = [];
      for (let i = 0; i < (options.apis ?? 1); i++) apiPorts.push(await freePort());
      stack = new ChaosStack(
        work,
        redis,
        sentinel,
        s3,
        client,
        bucket,
        `{chaos-${randomBytes(4).toString('hex')}}`,
        randomBytes(16).toString('hex'),
        apiPorts,
        options,
      );
      for (let i = 0; i < apiPorts.length; i++) await stack.startApi(i);
      for (let i = 0; i < (options.workers ?? 2); i++) await stack.startWorker();
      return stack;
    } catch (error) {
      await stack?.stop();
      if (stack === undefined) await work.cleanup();
      throw error;
    }
  }

  /** Redis as the API and workers see it (REDIS_URL, plus the sentinels when there are some). */
  redisEnv(): Record<string, string> {
    if (this.sentinel !== undefined) {
      return {
        REDIS_URL: `redis://127.0.0.1:${this.sentinel.primary.port}`,
        REDIS_SENTINELS: this.sentinel.sentinelList,
        REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      };
    }
    return { REDIS_URL: `redis://127.0.0.1:${this.redis?.port ?? 0}` };
  }

  /** A Redis client for checks (through Sentinel when there is one); the caller disconnects it. */
  redisClient(): Redis {
    if (this.sentinel !== undefined) {
      return new Redis({
        sentinels: this.sentinel.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
        name: SENTINEL_MASTER,
        maxRetriesPerRequest: 5,
      });
    }
    return new Redis(this.redisEnv().REDIS_URL ?? '', { maxRetriesPerRequest: 5 });
  }

  /** The trials queue, for reading job states and attempts (the caller closes it). */
  queue(connection: Redis): Queue {
    return new Queue(TRIALS_QUEUE, { connection, prefix: this.keyPrefix });
  }

  private s3Env(): Record<string, string> {
    return {
      S3_ENDPOINT: this.s3.endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: this.s3.config.accessKeyId ?? '',
      S3_SECRET_ACCESS_KEY: this.s3.config.secretAccessKey ?? '',
    };
  }

  apiUrl(index = 0): string {
    return `http://127.0.0.1:${this.apiPorts[index] ?? 0}`;
  }

  /** Starts (or restarts) API replica `index` on its port and waits for /readyz. */
  async startApi(index: number): Promise<ServiceProcess> {
    const port = this.apiPorts[index];
    if (port === undefined) throw new Error(`no API replica ${index}`);
    const api = nodeService(`api-${index + 1}`, API_MAIN, {
      ...this.s3Env(),
      ...this.redisEnv(),
      PORT: String(port),
      HOST: '127.0.0.1',
      SETRAIN_KEY_PREFIX: this.keyPrefix,
      SETRAIN_API_KEYS: this.apiKey,
      SETRAIN_ARTIFACTS_BUCKET: this.bucket,
      SETRAIN_RECONCILE_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    this.apis[index] = api;
    await waitReady(api, `${this.apiUrl(index)}/readyz`);
    return api;
  }

  /** Starts one more worker process and waits until it serves /metrics. */
  async startWorker(env: Record<string, string> = {}, waitUntilReady = true): Promise<ChaosWorker> {
    this.workerCount++;
    const id = `chaos-worker-${this.workerCount}`;
    const metricsPort = await freePort();
    const total = Math.max(1, this.options.workers ?? 2);
    const process = nodeService(id, WORKER_MAIN, {
      ...this.s3Env(),
      ...this.redisEnv(),
      SETRAIN_KEY_PREFIX: this.keyPrefix,
      SETRAIN_ENGINE: this.options.engine ?? 'auto',
      SETRAIN_ENGINE_THREADS: String(Math.max(1, Math.floor(availableParallelism() / total))),
      SETRAIN_WORKER_ID: id,
      SETRAIN_CACHE_DIR: join(this.work.path, `cache-${id}`),
      // Short locks: a killed worker's trial is handed on in seconds, not a minute.
      SETRAIN_LOCK_DURATION_MS: '6000',
      SETRAIN_STALLED_INTERVAL_MS: '3000',
      // worker-sigkill may kill the worker of the same trial three times; with the default limit
      // (2) BullMQ then fails that trial by design ("job stalled more than allowable limit"),
      // which is the configured behaviour, not what these scenarios test.
      SETRAIN_MAX_STALLED_COUNT: '5',
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
      ...this.options.workerEnv,
      ...env,
    });
    const worker = { id, process };
    this.workers.push(worker);
    if (waitUntilReady) await waitReady(process, `http://127.0.0.1:${metricsPort}/metrics`);
    return worker;
  }

  /** Workers that have not exited. */
  liveWorkers(): ChaosWorker[] {
    return this.workers.filter((w) => w.process.exit() === undefined);
  }

  /** Output of every process, for a failing scenario's report. */
  outputs(): string {
    return [...this.apis.map((a) => a), ...this.workers.map((w) => w.process)]
      .map((p) => `--- ${p.name} ---\n${p.output().slice(-3000)}`)
      .join('\n');
  }

  track(resource: { stop(): Promise<void> }): void {
    this.extra.push(resource);
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) await worker.process.stop().catch(() => undefined);
    for (const api of this.apis) await api.stop().catch(() => undefined);
    for (const resource of this.extra) await resource.stop().catch(() => undefined);
    await this.s3.service.stop().catch(() => undefined);
    this.s3Client.destroy();
    await this.redis?.stop().catch(() => undefined);
    await this.sentinel?.stop().catch(() => undefined);
    await this.work.cleanup().catch(() => undefined);
  }
}

/** SIGKILLs a service's whole process group (or TERMs the service); see waitExit. */
export function killProcess(service: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (service.exit() !== undefined) return;
  if (signal === 'SIGKILL') process.kill(-service.pid, 'SIGKILL');
  else {
    // TERM the service itself (the watchdog shell passes it on) so it shuts down gracefully.
    process.kill(service.pid, signal);
  }
}

export async function waitExit(service: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => Promise.resolve(service.exit() !== undefined), {
    what: `${service.name} to exit`,
    timeoutMs,
  });
}

function nodeService(name: string, main: string, env: Record<string, string>): ServiceProcess {
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return startServiceProcess(
    name,
    'env',
    [
      'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
      ...assignments,
      process.execPath,
      '--conditions=source',
      '--import',
      'tsx',
      main,
    ],
    { cwd: REPO_ROOT },
  );
}

async function waitReady(service: ServiceProcess, url: string): Promise<void> {
  const exited = service.exited.then((exit) => {
    throw new Error(
      `${service.name} exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${service.output()}`,
    );
  });
  exited.catch(() => undefined);
  await Promise.race([
    waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, {
      timeoutMs: READY_TIMEOUT_MS,
      what: `${service.name} to answer ${url}`,
    }),
    exited,
  ]);
}
