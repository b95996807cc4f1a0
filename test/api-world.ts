/**
 * One API test's world against real services: its own Redis key prefix, bucket and a two-class
 * dataset manifest, the API built with buildApp (no listener), the trials queue, and hand-driven
 * BullMQ workers standing in for real ones; useApiTestFile gives a test file its servers, worlds
 * and authorised request helpers. Shared by the API and smarter-sweep tests.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';

import { API_REDIS_OPTIONS, buildApp, type ApiApp, type AppDeps } from '@setrain/api';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  apiErrorBodySchema,
  runKeys,
  sweepDetailSchema,
  type ApiErrorBody,
  type SweepDetail,
  TRIALS_QUEUE,
  type TrialPayload,
  type TrialRecord,
  type TrialResult,
} from '@setrain/protocol';
import { putObject, writeDataset } from '@setrain/storage';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';

import {
  startRedis,
  startS3,
  uniqueName,
  waitFor,
  type RedisServer,
  type S3Server,
} from './harness/index.js';

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
  const redis = new Redis(redisServer.url, API_REDIS_OPTIONS);
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

/** What `app.inject` answers. */
type InjectResponse = Awaited<ReturnType<ApiApp['inject']>>;

/** What an API test file declares once: its key, and how its worlds are made. */
export interface ApiTestFileOptions {
  /** Names the worlds' key prefixes, for debugging. */
  label: string;
  /** The key tests send in `auth`. */
  apiKey: string;
  /** Further keys the API accepts (listed before `apiKey`). */
  otherApiKeys?: readonly string[];
  /** Extra buildApp dependencies of every world (e.g. `metrics: false`). */
  appDeps?: Partial<AppDeps>;
  /** Make one world in `before` (closed in `after`), read through `sharedWorld`. */
  sharedWorld?: boolean;
}

/** One API test file's servers and worlds; the servers exist only while its tests run. */
export interface ApiTestFile {
  readonly apiKey: string;
  /** `Authorization: Bearer <apiKey>`. */
  readonly auth: { readonly authorization: string };
  readonly redisServer: RedisServer;
  readonly s3: S3Server;
  /** The world made in `before` (only with `sharedWorld: true`). */
  readonly sharedWorld: ApiWorld;
  /** A new world on this file's servers; `overrides` change its label or add dependencies. */
  world(overrides?: { label?: string; appDeps?: Partial<AppDeps> }): Promise<ApiWorld>;
  /** An authorised request (`auth`) through `app.inject`. */
  readonly request: (
    app: ApiApp,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
  ) => Promise<InjectResponse>;
  /** POST /v1/sweeps, which must answer 201. */
  readonly createSweep: (app: ApiApp, spec: unknown) => Promise<SweepDetail>;
  /** GET /v1/sweeps/:id, which must answer 200. */
  readonly getSweep: (app: ApiApp, id: string) => Promise<SweepDetail>;
  /** Polls the sweep until `done` says so (20 s by default). */
  readonly untilSweep: (
    app: ApiApp,
    id: string,
    done: (sweep: SweepDetail) => boolean,
    what: string,
    timeoutMs?: number,
  ) => Promise<SweepDetail>;
  /** The `error` of an API error body. */
  readonly errorOf: (body: string) => ApiErrorBody['error'];
}

/**
 * Registers the file's `before` (start redis-server and s3rver, make the shared world) and
 * `after` (close that world, stop the servers); call it once at the top level of a test file.
 */
export function useApiTestFile(options: ApiTestFileOptions): ApiTestFile {
  let servers: { redisServer: RedisServer; s3: S3Server } | undefined;
  let shared: ApiWorld | undefined;
  const running = () => {
    if (servers === undefined) throw new Error('the API test servers start in before()');
    return servers;
  };
  const file: ApiTestFile = {
    apiKey: options.apiKey,
    auth: { authorization: `Bearer ${options.apiKey}` },
    get redisServer() {
      return running().redisServer;
    },
    get s3() {
      return running().s3;
    },
    get sharedWorld() {
      if (shared === undefined) throw new Error('useApiTestFile was not given sharedWorld: true');
      return shared;
    },
    world(overrides = {}) {
      return createApiWorld({
        ...running(),
        label: overrides.label ?? options.label,
        apiKeys: [...(options.otherApiKeys ?? []), options.apiKey],
        appDeps: { ...options.appDeps, ...overrides.appDeps },
      });
    },
    request: (app, method, url, payload) =>
      app.inject({ method, url, headers: file.auth, ...(payload ? { payload } : {}) }),
    createSweep: async (app, spec) => {
      const response = await file.request(app, 'POST', '/v1/sweeps', spec as object);
      assert.equal(response.statusCode, 201, response.body);
      return sweepDetailSchema.parse(response.json());
    },
    getSweep: async (app, id) => {
      const response = await file.request(app, 'GET', `/v1/sweeps/${id}`);
      assert.equal(response.statusCode, 200, response.body);
      return sweepDetailSchema.parse(response.json());
    },
    untilSweep: (app, id, done, what, timeoutMs = 20_000) =>
      waitFor(
        async () => {
          const sweep = await file.getSweep(app, id);
          return done(sweep) ? sweep : undefined;
        },
        { what, timeoutMs },
      ),
    errorOf: (body) => apiErrorBodySchema.parse(JSON.parse(body)).error,
  };
  before(async () => {
    const [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
    servers = { redisServer, s3 };
    if (options.sharedWorld === true) shared = await file.world();
  });
  after(async () => {
    await shared?.close();
    if (servers !== undefined) await Promise.all([servers.redisServer.stop(), servers.s3.stop()]);
  });
  return file;
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
