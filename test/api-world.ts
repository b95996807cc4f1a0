/**
 * One API test's world against real services: its own Redis key prefix, bucket and a two-class
 * dataset manifest, the API built with buildApp (no listener), the trials queue, and hand-driven
 * BullMQ workers standing in for real ones. Shared by the API and smarter-sweep tests.
 */
import { buildApp, type ApiApp, type AppDeps } from '@setrain/api';
import { TRIALS_QUEUE, type TrialPayload, type TrialResult } from '@setrain/protocol';
import { writeDataset } from '@setrain/storage';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';

import { uniqueName, type RedisServer, type S3Server } from './harness/index.js';

export interface ApiWorld {
  readonly prefix: string;
  readonly bucket: string;
  /** `s3://<bucket>/datasets/shapes/manifest.jsonl` (two classes, two entries). */
  readonly dataset: string;
  /** The API's fail-fast command connection. */
  readonly redis: Redis;
  readonly queue: Queue<TrialPayload, TrialResult>;
  /** Run in reverse order by close(). */
  readonly closers: (() => Promise<unknown>)[];
  /** A new API (controller included) on this world's Redis, prefix and bucket. */
  app(): Promise<ApiApp>;
  /** A BullMQ worker on the trials queue running `processor` instead of training. */
  worker(processor: (job: Job<TrialPayload>) => Promise<TrialResult>): Worker;
  close(): Promise<void>;
}

export interface ApiWorldOptions {
  redisServer: RedisServer;
  s3: S3Server;
  /** Names the key prefix, for debugging. */
  label: string;
  apiKeys: readonly string[];
  /** Extra buildApp dependencies (e.g. `metrics: false`). */
  appDeps?: Partial<AppDeps>;
}

export async function createApiWorld(options: ApiWorldOptions): Promise<ApiWorld> {
  const { redisServer, s3 } = options;
  const prefix = `{${uniqueName(options.label)}}`;
  const bucket = await s3.createBucket();
  await writeDataset(s3.client, bucket, 'datasets/shapes', {
    classes: ['circle', 'square'],
    entries: [
      { key: 'images/1.png', labels: ['circle'] },
      { key: 'images/2.png', labels: ['square'] },
    ],
  });
  const redis = new Redis(redisServer.url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  await redis.connect();
  const closers: (() => Promise<unknown>)[] = [];
  const queue = new Queue<TrialPayload, TrialResult>(TRIALS_QUEUE, { connection: redis, prefix });
  return {
    prefix,
    bucket,
    dataset: `s3://${bucket}/datasets/shapes/manifest.jsonl`,
    redis,
    queue,
    closers,
    async app() {
      const app = await buildApp({
        redis,
        s3: s3.client,
        keyPrefix: prefix,
        artifactsBucket: bucket,
        apiKeys: options.apiKeys,
        reconcileIntervalMs: 200,
        jobAttempts: 1,
        ...options.appDeps,
      });
      await app.ready();
      closers.push(() => app.close());
      return app;
    },
    worker(processor) {
      const connection = new Redis(redisServer.url, { maxRetriesPerRequest: null });
      const worker = new Worker<TrialPayload, TrialResult>(TRIALS_QUEUE, processor, {
        connection,
        prefix,
        concurrency: 1,
      });
      closers.push(async () => {
        await worker.close();
        connection.disconnect();
      });
      return worker;
    },
    async close() {
      for (const close of closers.reverse()) await close();
      await queue.close();
      redis.disconnect();
    },
  };
}
