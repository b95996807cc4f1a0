/**
 * A worker re-checks what the API checked at submit, since a job can reach the queue without the
 * API: against real services (redis-server, s3rver, a worker forking trial processes), a payload
 * whose dataset lies outside SETRAIN_DATA_BUCKETS, one whose key climbs out with `..`, and one over
 * SETRAIN_MAX_TRIAL_MEMORY_BYTES each fail their trial at once, never retried, with an error
 * naming the field and the variable, while the worker stays up and ready.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import {
  TRIALS_QUEUE,
  trialPayloadSchema,
  type TrialPayload,
  type TrialResult,
} from '@setrain/protocol';
import {
  loadWorkerConfig,
  startWorker,
  TrialStateStore,
  type WorkerConfig,
  type WorkerRuntime,
} from '@setrain/worker';

import { startRedis, startS3, tempDir, uniqueName } from './harness/index.js';
import type { RedisServer, S3Server, TempDir } from './harness/index.js';
import { uploadShapesDataset } from './fixtures/shapes-dataset.js';

const FAIL_TIMEOUT_MS = 120_000;
/** 1 GiB: a 75-pixel trial with a small batch fits, 1024 pixels x 4096 images does not. */
const BUDGET = 2 ** 30;

let redis: RedisServer;
let s3: S3Server;
let cache: TempDir;
/** The artifacts bucket (always readable). */
let bucket: string;
/** A bucket the worker's SETRAIN_DATA_BUCKETS does not list. */
let otherBucket: string;
let connection: Redis;
let eventsConnection: Redis;
let queue: Queue<TrialPayload, TrialResult>;
let queueEvents: QueueEvents;
let runtime: WorkerRuntime;
const prefix = `{${uniqueName('sw')}}`;

before(async () => {
  [redis, s3, cache] = await Promise.all([startRedis(), startS3(), tempDir('security-worker')]);
  [bucket, otherBucket] = await Promise.all([s3.createBucket(), s3.createBucket()]);
  const config: WorkerConfig = {
    ...loadWorkerConfig({
      REDIS_URL: redis.url,
      SETRAIN_KEY_PREFIX: prefix,
      SETRAIN_ENGINE: 'wasm',
      SETRAIN_WORKER_ID: 'security-worker-1',
      SETRAIN_CACHE_DIR: join(cache.path, 'worker'),
      SETRAIN_MAX_TRIAL_MEMORY_BYTES: String(BUDGET),
      SETRAIN_DATA_BUCKETS: 'setrain-datasets-elsewhere',
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    }),
    s3: s3.config,
  };
  connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  eventsConnection = connection.duplicate();
  queue = new Queue<TrialPayload, TrialResult>(TRIALS_QUEUE, { connection, prefix });
  queueEvents = new QueueEvents(TRIALS_QUEUE, { connection: eventsConnection, prefix });
  await queueEvents.waitUntilReady();
  runtime = await startWorker({ config });
});

after(async () => {
  await runtime?.close();
  await Promise.all([queueEvents?.close(), queue?.close()]);
  for (const redisConnection of [connection, eventsConnection]) redisConnection?.disconnect();
  await Promise.all([redis?.stop(), s3?.stop(), cache?.cleanup()]);
});

/** Enqueues a payload straight into the queue (no API) that must fail; returns the message. */
async function failingTrial(fields: Partial<TrialPayload>): Promise<string> {
  const sweepId = uniqueName('sw-sec');
  const payload = trialPayloadSchema.parse({
    sweepId,
    trialId: `${sweepId}.1`,
    trialNumber: 1,
    dataset: `s3://${bucket}/datasets/none/manifest.jsonl`,
    model: { inputSize: 75 },
    training: { epochs: 1, batchSize: 2, validationSplit: 0.25, seed: 1 },
    objective: { metric: 'val_loss', goal: 'minimize' },
    params: {},
    artifactsBucket: bucket,
    ...fields,
  });
  const job = await queue.add('trial', payload, { jobId: payload.trialId, attempts: 3 });
  const error = await job.waitUntilFinished(queueEvents, FAIL_TIMEOUT_MS).then(
    () => assert.fail(`${payload.trialId} should have failed`),
    (e: unknown) => e as Error,
  );
  const failed = await Job.fromId(queue, payload.trialId);
  assert.equal(failed?.attemptsMade, 1, 'a limit is not retried');
  const state = await new TrialStateStore(connection, prefix).get(sweepId, payload.trialId);
  assert.equal(state?.status, 'failed');
  assert.equal(runtime.worker.isRunning(), true);
  assert.equal(runtime.health.notReadyReason(), undefined, 'the worker stays ready');
  return error.message;
}

test('a dataset in a bucket outside SETRAIN_DATA_BUCKETS fails its trial, never read', async () => {
  // A real dataset: without the check the worker would read it with its own credentials.
  const data = await uploadShapesDataset(s3.client, otherBucket, 'datasets/secret', { count: 4 });
  const message = await failingTrial({ dataset: data.manifestUri });
  assert.match(
    message,
    new RegExp(
      `DATA_BUCKET_NOT_ALLOWED: dataset ${data.manifestUri} is not in a bucket this worker reads from; allowed buckets: ${bucket}, setrain-datasets-elsewhere \\(SETRAIN_DATA_BUCKETS\\)`,
    ),
  );
});

test('backbone weights outside the allowed buckets and `..` keys fail the same way', async () => {
  const weights = `s3://${otherBucket}/weights/notop.h5`;
  assert.match(
    await failingTrial({ model: { inputSize: 75, backboneWeights: weights } }),
    new RegExp(`DATA_BUCKET_NOT_ALLOWED: model.backboneWeights ${weights} is not in a bucket`),
  );
  assert.match(
    await failingTrial({ dataset: `s3://${bucket}/datasets/../../etc/manifest.jsonl` }),
    /DATA_BUCKET_NOT_ALLOWED: dataset s3:\/\/\S+ the object key .*\.\./,
  );
});

test('a trial over SETRAIN_MAX_TRIAL_MEMORY_BYTES fails before it trains, naming the fields', async () => {
  const message = await failingTrial({
    model: { inputSize: 1024 },
    training: trialPayloadSchema.shape.training.parse({ batchSize: 4096, epochs: 1 }),
  });
  assert.match(
    message,
    /TRIAL_MEMORY_EXCEEDED: this trial may need about [\d.]+ GiB \(model.inputSize 1024, training.batchSize 4096\), more than this worker's 1.00 GiB budget per trial \(SETRAIN_MAX_TRIAL_MEMORY_BYTES\)/,
  );
});
