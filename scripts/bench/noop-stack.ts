// The API (buildApp, its sweep controller) and in-process workers running the benchmark-only noop
// trainer, on a given redis-server and s3rver: what bench:queue and bench:api measure.
import { API_REDIS_OPTIONS, buildApp, type ApiApp } from '@setrain/api';
import { redisKeys, sweepDetailSchema, TRIALS_QUEUE, type SweepSpecInput } from '@setrain/protocol';
import { loadWorkerConfig, startWorker, type WorkerRuntime } from '@setrain/worker';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import type { RedisServer, S3Server } from '../../test/harness/index.js';
import { uploadShapesDataset } from '../../test/fixtures/shapes-dataset.js';
import { benchmarkOnlyNoopLauncher } from './benchmark-only-noop-trainer.js';

export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

/** A running noop stack. */
export interface NoopStack {
  readonly app: ApiApp;
  /** The trials queue (BullMQ's job timestamps). */
  readonly queue: Queue;
  /** Which worker ran each trial (by trial id). */
  readonly workerOfTrial: ReadonlyMap<string, string>;
  /** Submits a random-search sweep through the API; returns its id. */
  submitSweep(trials: number, parallelism: number): Promise<string>;
  /**
   * Polls the sweep's status until it ends: the stored record's status field, twice a second (not
   * the API's whole sweep read: at 1,000 trials that cost the measured process more CPU than the
   * controller did).
   */
  waitForSweep(sweepId: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startNoopStack(
  redis: RedisServer,
  s3: S3Server,
  workers: number,
): Promise<NoopStack> {
  const keyPrefix = `{bench-${Date.now()}}`;
  const bucket = await s3.createBucket();
  const data = await uploadShapesDataset(s3.client, bucket, 'datasets/bench', { count: 4 });
  const apiRedis = new Redis(redis.url, API_REDIS_OPTIONS);
  await apiRedis.connect();
  const app = await buildApp({
    redis: apiRedis,
    s3: s3.client,
    keyPrefix,
    artifactsBucket: bucket,
    apiKeys: [BENCH_API_KEY],
    metrics: false,
  });
  await app.ready();
  const queueConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(TRIALS_QUEUE, { connection: queueConnection, prefix: keyPrefix });
  const workerOfTrial = new Map<string, string>();
  const launcher = benchmarkOnlyNoopLauncher((trialId, workerId) =>
    workerOfTrial.set(trialId, workerId),
  );
  const runtimes: WorkerRuntime[] = [];
  for (let i = 0; i < workers; i++) {
    const config = loadWorkerConfig({
      REDIS_URL: redis.url,
      SETRAIN_KEY_PREFIX: keyPrefix,
      SETRAIN_WORKER_ID: `bench-worker-${i}`,
      METRICS_PORT: '0',
      LOG_LEVEL: 'error',
    });
    runtimes.push(
      await startWorker({ config: { ...config, s3: s3.config }, processor: { launcher } }),
    );
  }
  const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
  return {
    app,
    queue,
    workerOfTrial,
    async submitSweep(trials, parallelism) {
      const spec: SweepSpecInput = {
        name: 'bench',
        dataset: data.manifestUri,
        model: { inputSize: 75 },
        training: { epochs: 1, batchSize: 2, seed: 1 },
        search: {
          strategy: 'random',
          parameters: { learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1 } },
        },
        objective: { metric: 'val_loss', goal: 'minimize' },
        maxTrials: trials,
        parallelism,
      };
      const created = await app.inject({
        method: 'POST',
        url: '/v1/sweeps',
        headers,
        payload: spec,
      });
      if (created.statusCode >= 300) {
        throw new Error(`POST /v1/sweeps answered ${created.statusCode}: ${created.body}`);
      }
      return sweepDetailSchema.parse(created.json()).id;
    },
    async waitForSweep(sweepId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const key = redisKeys(keyPrefix).sweep(sweepId);
      for (;;) {
        const raw = await apiRedis.get(key);
        const { status } = (raw === null ? {} : JSON.parse(raw)) as { status?: string };
        if (status === 'completed' || status === 'failed') return;
        if (Date.now() > deadline)
          throw new Error(`sweep ${sweepId} still ${status ?? 'absent'} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
    async close() {
      for (const runtime of runtimes) await runtime.close();
      await app.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      queueConnection.disconnect();
      apiRedis.disconnect();
    },
  };
}
