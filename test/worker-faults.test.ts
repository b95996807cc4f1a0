/**
 * The worker's fault tolerance against real services (redis-server, s3rver, BullMQ, forked trainer
 * processes on the wasm engine at 75x75): durable stop requests, outages waited out without using
 * attempts, a listener failure stopping the trial at once, quarantine, engine preflight, atomic
 * trial-state updates with the attempts log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';

import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  redisKeys,
  runKeys,
  SWEEP_STOP_FIELD,
  trialPayloadSchema,
  trialRecordSchema,
  type CheckpointRoot,
  type StopRequest,
  type TrialPayload,
} from '@setrain/protocol';
import { getJson, listKeys, putObject } from '@setrain/storage';
import {
  deleteCheckpoint,
  createLogger,
  forkTrialLauncher,
  trialListeners,
  TrialStateStore,
  startWorker,
  WorkerError,
  type TrialLauncher,
  type WorkerConfig,
  type WorkerRuntime,
} from '@setrain/worker';

import { uniqueName, waitFor } from './harness/index.js';
import { epochMetrics } from './fixtures/epoch-metrics.js';
import { uploadShapesDataset, type UploadedShapesDataset } from './fixtures/shapes-dataset.js';
import {
  enqueueTrial,
  failureOf as failureOfJob,
  startWorkerServices,
  type WorkerServices,
} from './fixtures/worker-services.js';

const TRAIN_TIMEOUT_MS = 240_000;
/** An address nothing listens on: S3 "unreachable" for the trials that use it. */
const UNREACHABLE_S3 = 'http://127.0.0.1:9';

let services: WorkerServices;
let data: UploadedShapesDataset;
let runtime: WorkerRuntime;
/** Trials whose trainer sees S3 unreachable, and trials whose epoch listener fails. */
const s3DownFor = new Set<string>();
const listenerFailsFor = new Set<string>();
const startedTrials = new Set<string>();

/** The real fork launcher, with the faults above applied to the trials named. */
const faultyLauncher = (): TrialLauncher => {
  const fork = forkTrialLauncher();
  return (request, listeners) => {
    const { trialId } = request.payload;
    const s3Config = s3DownFor.has(trialId)
      ? { ...request.s3, endpoint: UNREACHABLE_S3 }
      : request.s3;
    return fork(
      { ...request, s3: s3Config },
      {
        ...listeners,
        onStarted: async (started) => {
          startedTrials.add(trialId);
          await listeners.onStarted?.(started);
        },
        onEpoch: async (metrics, numTensors, checkpoints, superseded) => {
          if (listenerFailsFor.delete(trialId)) {
            // Once: Redis "comes back" for the attempt after the give-back.
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), {
              code: 'ECONNREFUSED',
            });
          }
          await listeners.onEpoch?.(metrics, numTensors, checkpoints, superseded);
        },
      },
    );
  };
};

function startRuntime(overrides: Partial<WorkerConfig> = {}, stopPollMs = 500) {
  return startWorker({
    config: { ...services.config, ...overrides },
    processor: {
      launcher: faultyLauncher(),
      stopPollMs,
      faults: { batchDelayMs: 200 },
    },
  });
}

before(async () => {
  services = await startWorkerServices('worker-faults', 'fault-worker-1', {
    outageBudgetSeconds: 120,
    quarantineAfter: 2,
  });
  data = await uploadShapesDataset(services.s3.client, services.bucket, 'datasets/faults', {
    count: 6,
    multiLabel: true,
    seed: 5,
  });
  runtime = await startRuntime();
});

after(async () => {
  await runtime?.close();
  await services?.close();
});

function payloadFor(epochs: number): TrialPayload {
  const sweepId = uniqueName('sw-f');
  return trialPayloadSchema.parse({
    sweepId,
    trialId: `${sweepId}.1`,
    trialNumber: 1,
    dataset: data.manifestUri,
    model: { inputSize: 75, seRatio: 16, dropout: 0.2 },
    training: {
      epochs,
      batchSize: 2,
      optimizer: 'sgd',
      momentum: 0,
      learningRate: 0.01,
      validationSplit: 0.34,
      seed: 7,
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    params: { seRatio: 16, dropout: 0.2 },
    artifactsBucket: services.bucket,
  });
}

const enqueue = (payload: TrialPayload) => enqueueTrial(services, payload);
const failureOf = (job: Awaited<ReturnType<typeof enqueue>>, timeoutMs: number) =>
  failureOfJob(services, job, timeoutMs);

async function requestStop(sweepId: string, field: string, reason: string): Promise<void> {
  const stop: StopRequest = { kind: 'cancel', reason, requestedAt: new Date().toISOString() };
  await services.connection.hset(
    redisKeys(services.prefix).sweepStops(sweepId),
    field,
    JSON.stringify(stop),
  );
}

test('trial state updates are atomic: concurrent updates all land', async () => {
  const payload = payloadFor(1);
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      services.store.update(payload, (current) => ({
        attemptsLog: [
          ...(current.attemptsLog ?? []),
          { attempt: 1, workerId: `w${i}`, startedAt: new Date().toISOString() },
        ],
      })),
    ),
  );
  const state = await services.store.get(payload.sweepId, payload.trialId);
  assert.equal(state?.attemptsLog?.length, 20);
});

test('an attempt left open (its worker lost the job lock) is closed stalled when the next starts', async () => {
  const payload = payloadFor(1);
  const first = { attempt: 1, workerId: 'lost-lock-worker', startedAt: new Date().toISOString() };
  await services.store.startAttempt(payload, first);
  const state = await services.store.startAttempt(payload, {
    attempt: 1,
    workerId: 'next-worker',
    startedAt: new Date().toISOString(),
  });
  assert.equal(state.attemptsLog?.length, 2);
  assert.equal(state.attemptsLog?.[0]?.outcome, 'stalled');
  assert.match(state.attemptsLog?.[0]?.reason ?? '', /lost the job lock/);
  assert.notEqual(state.attemptsLog?.[0]?.endedAt, undefined);
  assert.equal(state.attemptsLog?.[1]?.endedAt, undefined, 'the new attempt stays open');
});

/** A checkpoint directory in the bucket (its files' content does not matter here). */
async function putCheckpoint(payload: TrialPayload, epoch: number): Promise<CheckpointRoot> {
  const prefix = runKeys(payload.sweepId).trial(payload.trialId).checkpoint(epoch);
  await putObject(services.s3.client, services.bucket, `${prefix}weights.bin`, 'w');
  await putObject(services.s3.client, services.bucket, `${prefix}state.json`, '{}');
  return { epoch, prefix, stateSha256: '0'.repeat(64) };
}

test('superseded checkpoints are deleted only once the new root is recorded', async () => {
  const payload = payloadFor(3);
  const keys = runKeys(payload.sweepId).trial(payload.trialId);
  // Its own queue, which no worker takes from: the listener only reports progress on the job.
  const queue = new Queue('checkpoint-order', {
    connection: services.connection,
    prefix: services.prefix,
  });
  const job = await queue.add('trial', payload, { jobId: payload.trialId });
  const [old, next] = [await putCheckpoint(payload, 1), await putCheckpoint(payload, 2)];
  const metrics = epochMetrics(2);
  const listenersWith = (store: TrialStateStore) =>
    trialListeners(
      {
        job,
        payload,
        store,
        redis: services.connection,
        keyPrefix: services.prefix,
        log: createLogger('silent'),
        onTrainingStarted: () => undefined,
        deleteCheckpoints: async (roots) => {
          for (const root of roots) {
            await deleteCheckpoint(services.s3.client, services.bucket, root.prefix);
          }
        },
        epochsEmpty: false,
      },
      { epochs: [], best: null },
    );
  const left = async () =>
    (await listKeys(services.s3.client, services.bucket, keys.checkpointsPrefix)).length;
  try {
    // Redis unreachable for the state write: the epoch is not recorded, nothing is deleted.
    const down = new Redis('redis://127.0.0.1:9', {
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined); // ECONNREFUSED: what this part is about
    const unrecorded = listenersWith(new TrialStateStore(down, services.prefix, { withinMs: 200 }));
    await assert.rejects(async () => unrecorded.onEpoch?.(metrics, 1, [next], [old]));
    down.disconnect();
    assert.equal(await left(), 4, 'epoch 1 stays: the recorded state still trusts it');
    await listenersWith(services.store).onEpoch?.(metrics, 1, [next], [old]);
    const state = await services.store.get(payload.sweepId, payload.trialId);
    assert.deepEqual(state?.checkpoints, [next]);
    assert.equal(await left(), 2, 'epoch 1 deleted after epoch 2 was recorded');
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
});

test('a trial whose sweep has a stop request ends cancelled at once, without training', async () => {
  const payload = payloadFor(2);
  await requestStop(payload.sweepId, SWEEP_STOP_FIELD, 'sweep cancelled by user');
  const job = await enqueue(payload);
  const error = await failureOf(job, 60_000);
  assert.match(error.message, /TRIAL_CANCELLED: cancelled: sweep cancelled by user/);
  const failed = await Job.fromId(services.queue, payload.trialId);
  assert.equal(failed?.attemptsMade, 1, 'not retried');
  assert.equal(startedTrials.has(payload.trialId), false, 'no trainer started');
  assert.equal((await services.store.get(payload.sweepId, payload.trialId))?.status, 'cancelled');
});

test('a stop request written while the trial trains stops it within seconds, without pub/sub', async () => {
  const payload = payloadFor(5);
  const job = await enqueue(payload);
  await waitFor(() => startedTrials.has(payload.trialId), {
    what: 'the trial to start',
    timeoutMs: 120_000,
  });
  const stoppedAt = Date.now();
  await requestStop(payload.sweepId, payload.trialId, 'user asked');
  const error = await failureOf(job, 60_000);
  assert.match(error.message, /TRIAL_CANCELLED: cancelled: user asked/);
  const seconds = (Date.now() - stoppedAt) / 1000;
  assert.ok(seconds < 20, `the stop took ${seconds} s`);
  const state = await services.store.get(payload.sweepId, payload.trialId);
  assert.equal(state?.status, 'cancelled');
  assert.equal(state?.attemptsLog?.at(-1)?.outcome, 'cancelled');
});

test('an epoch listener failure stops the trial at once; it is given back without an attempt and completes', async () => {
  const payload = payloadFor(4);
  listenerFailsFor.add(payload.trialId);
  const job = await enqueue(payload);
  await waitFor(
    async () =>
      (await services.store.get(payload.sweepId, payload.trialId))?.attemptsLog?.at(0)?.outcome ===
      'given-back',
    { what: 'the trial to be given back', timeoutMs: TRAIN_TIMEOUT_MS, intervalMs: 200 },
  );
  // Given back right after epoch 1, not after training every epoch.
  const checkpoints = await listKeys(
    services.s3.client,
    services.bucket,
    runKeys(payload.sweepId).trial(payload.trialId).checkpointsPrefix,
  );
  assert.ok(
    !checkpoints.some((key) => /epoch-000[34]/.test(key)),
    `trained on after the failure: ${checkpoints.join(', ')}`,
  );
  const state = await services.store.get(payload.sweepId, payload.trialId);
  assert.match(state?.attemptsLog?.at(0)?.reason ?? '', /waiting out an outage/);
  const result = await job.waitUntilFinished(services.queueEvents, TRAIN_TIMEOUT_MS);
  assert.equal(result.status, 'completed');
  // BullMQ counts the attempt that completed; the give-back counted none.
  assert.equal((await Job.fromId(services.queue, payload.trialId))?.attemptsMade, 1);
  // The epoch history is complete: every epoch once, in order.
  const epochs = await services.store.epochs(payload.trialId);
  assert.deepEqual(
    epochs.map((m) => m.epoch),
    [1, 2, 3, 4],
  );
});

test('S3 unreachable: the trial is given back without an attempt and completes once S3 answers', async () => {
  const payload = payloadFor(1);
  s3DownFor.add(payload.trialId);
  const job = await enqueue(payload);
  await waitFor(
    async () =>
      (await services.store.get(payload.sweepId, payload.trialId))?.attemptsLog?.at(0)?.outcome ===
      'given-back',
    { what: 'the trial to be given back', timeoutMs: 120_000, intervalMs: 200 },
  );
  assert.match(runtime.health.notReadyReason() ?? '', /unreachable/);
  const scraped = await runtime.metrics.scrape();
  assert.match(
    scraped,
    /^setrain_worker_trials_given_back_total\{[^}]*reason="outage"[^}]*\} [1-9]/m,
  );
  assert.match(scraped, /^setrain_worker_ready(\{[^}]*\})? 0$/m);
  s3DownFor.delete(payload.trialId);
  const result = await job.waitUntilFinished(services.queueEvents, TRAIN_TIMEOUT_MS);
  assert.equal(result.status, 'completed');
  const done = await Job.fromId(services.queue, payload.trialId);
  // BullMQ counts the attempt that completed; the outage's give-backs counted none.
  assert.equal(done?.attemptsMade, 1, 'the outage used no attempt');
  assert.equal(runtime.health.notReadyReason(), undefined);
  const state = await services.store.get(payload.sweepId, payload.trialId);
  const log = state?.attemptsLog ?? [];
  assert.ok(log.length >= 2);
  assert.equal(log.at(-1)?.outcome, 'completed');
  assert.ok(log.every((entry) => entry.workerId === 'fault-worker-1'));
  const record = await getJson(
    services.s3.client,
    services.bucket,
    runKeys(payload.sweepId).trial(payload.trialId).trialJson,
    { parse: (v) => trialRecordSchema.parse(v) },
  );
  assert.equal(record.value.attemptsLog?.at(-1)?.outcome, 'completed');
  assert.equal(record.value.attemptsLog?.at(-1)?.workerId, 'fault-worker-1');
});

test('shutdown with a stop request pending ends the trial cancelled instead of giving it back', async () => {
  await runtime.close();
  runtime = await startRuntime({}, 600_000); // no polling: only the shutdown path sees the stop
  const payload = payloadFor(5);
  const job = await enqueue(payload);
  await waitFor(() => startedTrials.has(payload.trialId), {
    what: 'the trial to start',
    timeoutMs: 120_000,
  });
  await requestStop(payload.sweepId, payload.trialId, 'cancelled during shutdown');
  await runtime.close();
  const failed = await Job.fromId(services.queue, payload.trialId);
  assert.equal(await failed?.getState(), 'failed');
  assert.match(failed?.failedReason ?? '', /TRIAL_CANCELLED/);
  assert.equal((await services.store.get(payload.sweepId, payload.trialId))?.status, 'cancelled');
  assert.ok(job.id);
  runtime = await startRuntime();
});

test('after consecutive worker-side failures the worker quarantines and gives trials back', async () => {
  await runtime.close();
  const crashing: TrialLauncher = () => ({
    outcome: Promise.reject(
      new WorkerError('TRIAL_PROCESS_CRASHED', 'the trial process exited without a result'),
    ),
    stop: () => undefined,
    kill: () => undefined,
    pid: undefined,
  });
  runtime = await startWorker({ config: services.config, processor: { launcher: crashing } });
  const payload = payloadFor(1);
  const job = await enqueue(payload);
  await waitFor(() => runtime.health.quarantined, { what: 'quarantine', timeoutMs: 60_000 });
  await waitFor(async () => (await job.getState()) === 'waiting', {
    what: 'the trial to be given back',
    timeoutMs: 10_000,
  });
  const back = await Job.fromId(services.queue, payload.trialId);
  // The first crash used an attempt; the one that quarantined the worker did not.
  assert.equal(back?.attemptsMade, 1);
  assert.match(await runtime.metrics.scrape(), /^setrain_worker_quarantined(\{[^}]*\})? 1$/m);
  assert.equal(runtime.worker.isPaused(), true);
  assert.match(runtime.health.notReadyReason() ?? '', /quarantined/);
  await back?.remove();
});

test('a worker whose engine fails its preflight exits non-zero naming the engine and the fix', async () => {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'apps/worker/src/main.ts'],
    {
      cwd: new URL('..', import.meta.url),
      env: {
        ...process.env,
        SETRAIN_ENGINE: 'tensorflow',
        REDIS_URL: services.redis.url,
        SETRAIN_KEY_PREFIX: services.prefix,
        METRICS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(output, /engine preflight failed: SETRAIN_ENGINE=tensorflow/);
  assert.match(output, /Fix: /);
});
