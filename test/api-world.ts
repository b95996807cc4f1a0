/**
 * One API test's world against real services: its own Redis key prefix, bucket and a two-class
 * dataset manifest, the API built with buildApp (no listener), the trials queue, and hand-driven
 * BullMQ workers standing in for real ones. Shared by the API and smarter-sweep tests.
 */
import { buildApp, type ApiApp, type AppDeps } from '@setrain/api';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  runKeys,
  TRIALS_QUEUE,
  type TrialPayload,
  type TrialRecord,
  type TrialResult,
} from '@setrain/protocol';
import { putObject, writeDataset } from '@setrain/storage';
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

/**
 * A worker's end of a trial, as the real worker leaves it: final/ (epoch 2) and best/ (epoch 1)
 * objects (`weightsBytes` each, filled with the trial number, +100 under best/), a stray object
 * under best/ that the record does not list, trial.json, then the TrialResult.
 */
export async function writeFinishedTrial(
  client: S3Client,
  bucket: string,
  payload: TrialPayload,
  objectiveValue: number,
  weightsBytes = 300,
): Promise<TrialResult> {
  const keys = runKeys(payload.sweepId).trial(payload.trialId);
  // best/ and final/ differ (the last epoch's weights are not the best's), as after a peak.
  const artifacts: TrialRecord['artifacts'] = [];
  for (const [set, dir, epoch, fill] of [
    ['last', keys.final, 2, payload.trialNumber],
    ['best', keys.best, 1, payload.trialNumber + 100],
  ] as const) {
    const model = await putObject(
      client,
      bucket,
      `${dir}model.json`,
      `{"trial":"${payload.trialId}"}`,
    );
    const weights = await putObject(
      client,
      bucket,
      `${dir}weights.bin`,
      new Uint8Array(weightsBytes).fill(fill),
    );
    for (const a of [model, weights]) {
      artifacts.push({ key: a.key, bytes: a.size, sha256: a.sha256, set, epoch });
    }
  }
  // An object the record does not list is never served.
  await putObject(client, bucket, `${keys.best}stray.bin`, 'not listed');
  const record: TrialRecord = {
    trialId: payload.trialId,
    sweepId: payload.sweepId,
    trialNumber: payload.trialNumber,
    status: 'completed',
    params: payload.params,
    model: payload.model,
    training: payload.training,
    objective: payload.objective,
    objectiveValue,
    bestEpoch: 1,
    epochs: [],
    provenance: { dataset: payload.dataset, seed: payload.training.seed, packageVersion: 'test' },
    artifacts,
  };
  await putObject(client, bucket, keys.trialJson, JSON.stringify(record));
  return {
    trialId: payload.trialId,
    status: 'completed',
    objectiveValue,
    bestEpoch: 1,
    epochsCompleted: 1,
    trialJson: keys.trialJson,
  };
}
