/**
 * The training pipeline end to end: the HTTP API (buildApp, in this process) takes a sweep, its
 * controller enqueues trials on BullMQ, and real worker PROCESSES (apps/worker/src/main.ts) train
 * SE-Inception v3 on the wasm engine at 75x75 on generated images in s3rver. A worker is killed with
 * SIGKILL mid-trial and its trial resumes elsewhere from its epoch checkpoint; a cancel over HTTP
 * stops a running trial within seconds; the best checkpoint downloads, verifies and predicts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApp, type ApiApp } from '@setrain/api';
import { initEngine } from '@setrain/engine';
import '@setrain/model';
import {
  bestTrialResponseSchema,
  runKeys,
  sweepDetailSchema,
  TRIALS_QUEUE,
  trialRecordSchema,
  type SweepDetail,
  type TrialRecord,
} from '@setrain/protocol';
import { getJson } from '@setrain/storage';
import { TrialStateStore } from '@setrain/worker';
import sharp from 'sharp';

import { uploadShapesDataset, type UploadedShapesDataset } from './fixtures/shapes-dataset.js';
import {
  S3RVER_ACCESS_KEY_ID,
  S3RVER_SECRET_ACCESS_KEY,
  startRedis,
  startS3,
  tempDir,
  uniqueName,
  waitFor,
  type RedisServer,
  type S3Server,
  type TempDir,
} from './harness/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = 'pipeline-key-0123456789';
const AUTH = { authorization: `Bearer ${API_KEY}` };
/** 10 images: 8 train (2 batches of 4) + 2 validation per epoch; ~1 img/s on wasm at 75x75. */
const IMAGES = 10;
/** Usually done in 2-3 minutes; generous because the suite shares 2 cores with other test files. */
const SWEEP_TIMEOUT_MS = 480_000;

let redis: RedisServer;
let s3: S3Server;
let scratch: TempDir;
let bucket: string;
let dataset: UploadedShapesDataset;
let apiRedis: Redis;
let connection: Redis;
let app: ApiApp;
let queue: Queue;
let queueEvents: QueueEvents;
let eventsConnection: Redis;
let store: TrialStateStore;
const prefix = `{${uniqueName('pl')}}`;
const workers = new Map<string, { child: ChildProcess; output: string[] }>();
/** How often each job completed: a trial must complete exactly once. */
const completions = new Map<string, number>();

async function startWorkerProcess(workerId: string): Promise<void> {
  const output: string[] = [];
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'apps/worker/src/main.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        SETRAIN_KEY_PREFIX: prefix,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
        SETRAIN_ENGINE: 'wasm',
        SETRAIN_WORKER_ID: workerId,
        SETRAIN_CACHE_DIR: `${scratch.path}/${workerId}`,
        // Short locks so a killed worker's trial is found stalled within seconds.
        SETRAIN_LOCK_DURATION_MS: '8000',
        SETRAIN_STALLED_INTERVAL_MS: '3000',
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const collect = (chunk: Buffer): void => {
    output.push(chunk.toString());
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  workers.set(workerId, { child, output });
  await waitFor(() => output.join('').includes('"worker started"') || child.exitCode !== null, {
    what: `worker ${workerId} to start`,
    timeoutMs: 60_000,
  });
  assert.equal(child.exitCode, null, `worker ${workerId} exited:\n${output.join('')}`);
}

function workerLogs(): string {
  return [...workers.entries()]
    .map(([id, w]) => `--- ${id} ---\n${w.output.join('').slice(-4000)}`)
    .join('\n');
}

before(async () => {
  [redis, s3, scratch] = await Promise.all([startRedis(), startS3(), tempDir('pipeline')]);
  bucket = await s3.createBucket();
  dataset = await uploadShapesDataset(s3.client, bucket, 'datasets/shapes', {
    count: IMAGES,
    seed: 11,
  });
  apiRedis = new Redis(redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  eventsConnection = connection.duplicate();
  await apiRedis.ping().catch(() => undefined);
  app = await buildApp({
    redis: apiRedis,
    s3: s3.client,
    keyPrefix: prefix,
    artifactsBucket: bucket,
    apiKeys: [API_KEY],
    reconcileIntervalMs: 500,
    jobAttempts: 3,
    jobBackoffMs: 500,
  });
  await app.ready();
  queue = new Queue(TRIALS_QUEUE, { connection, prefix });
  queueEvents = new QueueEvents(TRIALS_QUEUE, { connection: eventsConnection, prefix });
  queueEvents.on('completed', ({ jobId }) =>
    completions.set(jobId, (completions.get(jobId) ?? 0) + 1),
  );
  await queueEvents.waitUntilReady();
  store = new TrialStateStore(connection, prefix);
  await Promise.all([startWorkerProcess('worker-a'), startWorkerProcess('worker-b')]);
});

after(async () => {
  for (const { child } of workers.values()) if (child.exitCode === null) child.kill('SIGKILL');
  await app?.close();
  await queueEvents?.close();
  await queue?.close();
  connection?.disconnect();
  eventsConnection?.disconnect();
  apiRedis?.disconnect();
  await Promise.all([redis?.stop(), s3?.stop(), scratch?.cleanup()]);
});

async function submitSweep(spec: Record<string, unknown>): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/sweeps',
    headers: AUTH,
    payload: spec,
  });
  assert.equal(response.statusCode, 201, response.body);
  return sweepDetailSchema.parse(response.json()).id;
}

async function sweepOf(id: string): Promise<SweepDetail> {
  const response = await app.inject({ method: 'GET', url: `/v1/sweeps/${id}`, headers: AUTH });
  assert.equal(response.statusCode, 200, response.body);
  return sweepDetailSchema.parse(response.json());
}

function specFor(
  name: string,
  parameters: Record<string, unknown>,
  epochs: number,
): Record<string, unknown> {
  return {
    name,
    dataset: dataset.manifestUri,
    model: { inputSize: 75 },
    training: {
      epochs,
      batchSize: 4,
      optimizer: 'sgd',
      momentum: 0,
      learningRate: 0.01,
      validationSplit: 0.2,
      seed: 5,
    },
    search: { strategy: 'grid', parameters },
    objective: { metric: 'val_loss', goal: 'minimize' },
    parallelism: 2,
  };
}

async function trialRecordOf(sweepId: string, trialId: string): Promise<TrialRecord> {
  const key = runKeys(sweepId).trial(trialId).trialJson;
  return (await getJson(s3.client, bucket, key, { parse: (v) => trialRecordSchema.parse(v) }))
    .value;
}

test('a 4-trial sweep runs on two worker processes; a killed worker loses nothing; best loads and predicts', async (t) => {
  const sweepId = await submitSweep(
    specFor('se-ratio-x-dropout', { seRatio: [8, 16], dropout: [0.2, 0.5] }, 2),
  );

  // Kill the worker holding a trial in its second epoch; a fresh worker takes its place.
  const victim = await waitFor(
    async () => {
      const trials = await connection.hvals(`${prefix}:sweep:${sweepId}:trials`);
      for (const raw of trials) {
        const state = JSON.parse(raw) as {
          trialId: string;
          status: string;
          epochsCompleted: number;
          workerId?: string;
        };
        if (
          state.status === 'running' &&
          state.epochsCompleted === 1 &&
          state.workerId !== undefined
        )
          return state;
      }
      return undefined;
    },
    { what: 'a trial in its second epoch', timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 250 },
  );
  await sleep(1500);
  const killed = workers.get(victim.workerId ?? '');
  assert.ok(killed, `unknown worker ${victim.workerId}`);
  killed.child.kill('SIGKILL');
  await startWorkerProcess('worker-c');

  let detail = await sweepOf(sweepId);
  const deadline = Date.now() + SWEEP_TIMEOUT_MS;
  while (detail.status === 'running' && Date.now() < deadline) {
    await sleep(1000);
    detail = await sweepOf(sweepId);
  }
  assert.equal(
    detail.status,
    'completed',
    `sweep ended ${detail.status}: ${JSON.stringify(detail.trials)}\n${workerLogs()}`,
  );
  assert.equal(detail.counts.completed, 4);

  const records = await Promise.all(detail.trials.map((t) => trialRecordOf(sweepId, t.trialId)));
  for (const record of records) {
    assert.equal(record.status, 'completed');
    assert.deepEqual(
      record.epochs.map((e) => e.epoch),
      [1, 2],
      record.trialId,
    );
    assert.equal((await store.epochs(record.trialId)).length, 2);
    // Completed exactly once: one completed event per job.
    assert.equal(completions.get(record.trialId), 1, record.trialId);
  }
  for (const record of records) {
    t.diagnostic(
      `${record.trialId} on ${record.provenance.workerId ?? '?'}: ${record.epochs
        .map(
          (e) =>
            `epoch ${e.epoch} ${(e.durationMs / 1000).toFixed(1)} s, ${e.imagesPerSec.toFixed(2)} img/s`,
        )
        .join('; ')}`,
    );
  }
  const resumed = records.find((r) => r.trialId === victim.trialId);
  assert.ok(resumed);
  assert.equal(
    resumed.provenance.resumedFromEpoch,
    1,
    'the killed trial resumed from its epoch-1 checkpoint',
  );
  assert.notEqual(resumed.provenance.workerId, victim.workerId);
  for (const record of records.filter((r) => r.trialId !== victim.trialId)) {
    assert.equal(record.provenance.resumedFromEpoch, undefined);
  }

  // best points at the trial with the lowest val_loss.
  const bestRecord = records.reduce((a, b) =>
    (b.objectiveValue ?? Infinity) < (a.objectiveValue ?? Infinity) ? b : a,
  );
  assert.equal(detail.best?.trialId, bestRecord.trialId);
  assert.equal(detail.best?.objectiveValue, bestRecord.objectiveValue);

  // Download the best checkpoint through its presigned URLs, verify it, load it and predict.
  const bestResponse = await app.inject({
    method: 'GET',
    url: `/v1/sweeps/${sweepId}/best`,
    headers: AUTH,
  });
  assert.equal(bestResponse.statusCode, 200, bestResponse.body);
  const best = bestTrialResponseSchema.parse(bestResponse.json());
  const files = new Map<string, Uint8Array>();
  for (const artifact of best.artifacts) {
    const bytes = new Uint8Array(await (await fetch(artifact.url)).arrayBuffer());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), artifact.sha256, artifact.key);
    files.set(artifact.key.slice(artifact.key.lastIndexOf('/') + 1), bytes);
  }
  const modelJson = JSON.parse(new TextDecoder().decode(files.get('model.json'))) as {
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const classes = JSON.parse(new TextDecoder().decode(files.get('classes.json'))) as string[];
  const weights = files.get('weights.bin');
  assert.ok(weights);
  await initEngine({ backend: 'wasm' });
  const model = await loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
      weightData: weights.buffer.slice(
        weights.byteOffset,
        weights.byteOffset + weights.byteLength,
      ) as ArrayBuffer,
    }),
  );
  const image = dataset.images[0];
  assert.ok(image);
  const pixels = await sharp(image.bytes)
    .resize(75, 75, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(Float32Array.from(pixels), [1, 75, 75, 3]);
  const y = model.predict(x) as tf.Tensor;
  const probabilities = Array.from(await y.data());
  tf.dispose([x, y]);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(probabilities.length, classes.length);
  assert.ok(
    Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4,
    'softmax outputs sum to 1',
  );
  model.dispose();
});

test('cancelling a sweep over HTTP stops its running trial within seconds', async () => {
  const sweepId = await submitSweep(specFor('to-cancel', { dropout: [0.3] }, 20));
  const trialId = `${sweepId}.1`;
  await waitFor(
    async () => {
      const job = await queue.getJob(trialId);
      const progress = job?.progress as { batch?: number } | undefined;
      return typeof progress === 'object' && (progress.batch ?? 0) >= 1;
    },
    { what: 'the trial to train its first batch', timeoutMs: 120_000, intervalMs: 200 },
  );
  const state = await store.get(sweepId, trialId);
  const holder = workers.get(state?.workerId ?? '');
  assert.ok(holder, `trial held by unknown worker ${state?.workerId}`);
  const cancelledAt = Date.now();
  const response = await app.inject({
    method: 'POST',
    url: `/v1/sweeps/${sweepId}/cancel`,
    headers: AUTH,
    payload: { reason: 'enough' },
  });
  assert.equal(response.statusCode, 200, response.body);
  await waitFor(async () => (await queue.getJob(trialId))?.failedReason, {
    what: 'the trial job to fail as cancelled',
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  const seconds = (Date.now() - cancelledAt) / 1000;
  const job = await queue.getJob(trialId);
  assert.match(job?.failedReason ?? '', /TRIAL_CANCELLED/);
  assert.ok(seconds < 20, `cancel took ${seconds} s`);
  assert.equal((await store.get(sweepId, trialId))?.status, 'cancelled');
  assert.equal(holder.child.exitCode, null, 'the worker keeps running');
});
