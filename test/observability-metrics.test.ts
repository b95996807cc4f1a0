/**
 * The metric modules against real services: the API's registry reads a real BullMQ queue and the
 * Redis key layout the API's SweepStore writes; the worker's registry is served by its own
 * /metrics server. test/observability.test.ts has Prometheus scrape them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  METRIC_CATALOGUE,
  QUEUE_JOB_STATES,
  TRIALS_QUEUE,
  metricKeysOf,
  redisKeys,
} from '@setrain/protocol';
import { createApiMetrics } from '../apps/api/src/metrics.js';
import {
  createWorkerMetrics,
  startMetricsServer,
  type WorkerMetrics,
} from '../apps/worker/src/metrics.js';

import { startRedis, uniqueName, type RedisServer } from './harness/index.js';

/** Labels that would make series unbounded. */
const FORBIDDEN_LABELS = ['trial', 'trial_id', 'trialId', 'job', 'job_id', 'jobId'];

let redisServer: RedisServer;
let redis: Redis;
let queue: Queue;
const prefix = `{${uniqueName('obs')}}`;

before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  queue = new Queue(TRIALS_QUEUE, { connection: redis, prefix });
});

after(async () => {
  await queue?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

/** Writes a sweep as the API's SweepStore lays it out (redisKeys), with trials in several states;
 * a running sweep is in the active set, as the controller keeps it. */
async function seedSweep(
  sweepId: string,
  status: string,
  goal: 'minimize' | 'maximize',
  objectives: (number | null)[],
  keyPrefix = prefix,
  createdAt = Date.now(),
) {
  const keys = redisKeys(keyPrefix);
  await redis.zadd(keys.sweeps, createdAt, sweepId);
  if (status === 'running') await redis.sadd(keys.activeSweeps, sweepId);
  await redis.set(
    keys.sweep(sweepId),
    JSON.stringify({ id: sweepId, status, spec: { objective: { metric: 'val_loss', goal } } }),
  );
  for (const [index, objectiveValue] of objectives.entries()) {
    const trialId = `${sweepId}.${index + 1}`;
    await redis.hset(
      keys.sweepTrials(sweepId),
      trialId,
      JSON.stringify({
        trialId,
        trialNumber: index + 1,
        status: objectiveValue === null ? 'queued' : 'completed',
        params: {},
        epochsCompleted: objectiveValue === null ? 0 : 1,
        objectiveValue,
      }),
    );
  }
}

function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('API metrics report queue depth by state (prioritized included), sweeps and trials by status, best objective', async () => {
  await queue.add('t', { n: 1 }, { jobId: 'a.1' });
  await queue.add('t', { n: 2 }, { jobId: 'a.2' });
  await queue.add('t', { n: 3 }, { jobId: 'a.3', priority: 5 });
  await queue.add('t', { n: 4 }, { jobId: 'a.4', delay: 60_000 });
  await seedSweep('sw-min', 'running', 'minimize', [0.7, 0.4, null]);
  await seedSweep('sw-max', 'completed', 'maximize', [0.6, 0.9]);
  const metrics = createApiMetrics({ queues: [queue], redis, keyPrefix: prefix });
  const text = await metrics.scrape(true);
  const depth = (state: string) =>
    sampleValue(text, 'setrain_queue_jobs', { queue: TRIALS_QUEUE, state });
  assert.equal(depth('waiting'), 2);
  assert.equal(depth('prioritized'), 1);
  assert.equal(depth('delayed'), 1);
  assert.equal(depth('active'), 0);
  for (const state of QUEUE_JOB_STATES)
    assert.notEqual(depth(state), undefined, `no series for ${state}`);
  assert.equal(sampleValue(text, 'setrain_sweeps', { status: 'running' }), 1);
  assert.equal(sampleValue(text, 'setrain_sweeps', { status: 'completed' }), 1);
  assert.equal(sampleValue(text, 'setrain_sweeps', { status: 'failed' }), 0);
  assert.equal(sampleValue(text, 'setrain_trials', { status: 'completed' }), 4);
  assert.equal(sampleValue(text, 'setrain_trials', { status: 'queued' }), 1);
  assert.equal(sampleValue(text, 'setrain_sweep_best_objective', { sweep: 'sw-min' }), 0.4);
  assert.equal(sampleValue(text, 'setrain_sweep_best_objective', { sweep: 'sw-max' }), 0.9);
  assert.equal(
    sampleValue(text, 'setrain_metrics_collect_errors_total', { collector: 'sweeps' }),
    0,
  );
  assert.match(text, /^process_cpu_seconds_total/m, 'default process metrics missing');

  metrics.observeHttpRequest({
    method: 'GET',
    route: '/v1/sweeps/:id',
    statusCode: 200,
    durationSeconds: 0.01,
  });
  metrics.observeHttpRequest({
    method: 'GET',
    route: undefined,
    statusCode: 404,
    durationSeconds: 0.001,
  });
  const after = await metrics.scrape();
  assert.equal(
    sampleValue(after, 'setrain_http_requests_total', {
      route: '/v1/sweeps/:id',
      status_code: '200',
    }),
    1,
  );
  assert.equal(
    sampleValue(after, 'setrain_http_requests_total', { route: 'unmatched', status_code: '404' }),
    1,
  );
});

/** How many times Redis has run `command` (INFO commandstats). */
async function commandCalls(command: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

test('a scrape reads the unfinished and the few most recent sweeps only: O(active sweeps)', async () => {
  const ownPrefix = `{${uniqueName('obs-recent')}}`;
  for (let i = 0; i < 300; i++) {
    await seedSweep(`sw-old-${i}`, 'completed', 'minimize', [i], ownPrefix, 1000 + i);
  }
  // The oldest sweep of all is still running: the active set keeps it in view.
  await seedSweep('sw-long', 'running', 'minimize', [0.5, null], ownPrefix, 1);
  const metrics = createApiMetrics({
    queues: [],
    redis,
    keyPrefix: ownPrefix,
    recentSweeps: 2,
    collectDefaultMetrics: false,
  });
  const before = await commandCalls('hvals');
  const text = await metrics.scrape(true);
  assert.equal((await commandCalls('hvals')) - before, 3, 'one trials read per sweep in view');
  const sweeps = [...text.matchAll(/^setrain_sweep_best_objective\{sweep="([^"]+)"\}/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual(sweeps.sort(), ['sw-long', 'sw-old-298', 'sw-old-299']);
  assert.equal(sampleValue(text, 'setrain_sweeps', { status: 'running' }), 1);
  assert.equal(sampleValue(text, 'setrain_sweeps', { status: 'completed' }), 2);
  assert.equal(sampleValue(text, 'setrain_trials', { status: 'queued' }), 1);
});

test('without the detail flag no series carries a sweep id', async () => {
  const metrics = createApiMetrics({ queues: [queue], redis, keyPrefix: prefix });
  const text = await metrics.scrape();
  assert.doesNotMatch(text, /sweep="/);
  assert.doesNotMatch(text, /sw-min|sw-max/);
  assert.doesNotMatch(text, /setrain_sweep_best_objective/);
  assert.notEqual(sampleValue(text, 'setrain_sweeps', { status: 'running' }), undefined);
});

test('a Redis outage counts a collect error instead of failing the scrape', async () => {
  const dead = new Redis('redis://127.0.0.1:1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  try {
    const metrics = createApiMetrics({
      queues: [],
      redis: dead,
      keyPrefix: prefix,
      collectDefaultMetrics: false,
    });
    // The error counter is serialized while the collectors still run: it shows on the next scrape.
    await metrics.scrape();
    const text = await metrics.scrape();
    assert.equal(
      sampleValue(text, 'setrain_metrics_collect_errors_total', { collector: 'sweeps' }),
      1,
    );
    assert.equal(
      sampleValue(text, 'setrain_metrics_collect_errors_total', { collector: 'workers' }),
      1,
    );
  } finally {
    dead.disconnect();
  }
});

function driveWorker(metrics: WorkerMetrics): void {
  metrics.apply({ kind: 'engine', engine: 'wasm' });
  metrics.trialStarted({ sweepId: 'sw-min' });
  metrics.apply({ kind: 'cache', hits: 3, misses: 5 });
  for (let step = 0; step < 4; step++) {
    metrics.apply({
      kind: 'step',
      seconds: 0.5,
      images: 4,
      loss: 1 - step / 10,
      dataWaitSeconds: 0.02,
    });
  }
  metrics.apply({ kind: 'checkpoint', checkpoint: 'epoch', seconds: 0.3, bytes: 90_000_000 });
  metrics.apply({ kind: 'epoch', seconds: 3, loss: 0.7, objective: 0.65 });
  metrics.apply({ kind: 'tfjs-memory', numTensors: 420, numBytes: 95_000_000 });
}

test('worker metrics export every catalogue metric with bounded labels, over their own /metrics server', async () => {
  const metrics = createWorkerMetrics({ workerId: 'w-test' });
  const server = await startMetricsServer(metrics, { port: 0, host: '127.0.0.1' });
  try {
    driveWorker(metrics);
    let text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    for (const key of metricKeysOf('worker')) {
      assert.match(
        text,
        new RegExp(`^# TYPE ${METRIC_CATALOGUE[key].name} `, 'm'),
        `${key} not exported`,
      );
    }
    assert.equal(sampleValue(text, 'setrain_engine_info', { engine: 'wasm', worker: 'w-test' }), 1);
    assert.equal(sampleValue(text, 'setrain_worker_trials_running', {}), 1);
    assert.equal(sampleValue(text, 'setrain_train_images_total', {}), 16);
    assert.equal(sampleValue(text, 'setrain_train_images_per_second', {}), 8);
    assert.equal(sampleValue(text, 'setrain_trial_objective', { sweep: 'sw-min' }), 0.65);
    assert.equal(sampleValue(text, 'setrain_tfjs_tensors', {}), 420);
    assert.equal(sampleValue(text, 'setrain_data_cache_misses_total', {}), 5);
    assert.equal(sampleValue(text, 'setrain_checkpoint_bytes_count', { kind: 'epoch' }), 1);
    metrics.trialFinished({ outcome: 'completed', objective: 0.6 });
    text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.equal(sampleValue(text, 'setrain_trials_finished_total', { outcome: 'completed' }), 1);
    assert.equal(sampleValue(text, 'setrain_trials_finished_total', { outcome: 'failed' }), 0);
    assert.equal(sampleValue(text, 'setrain_trial_final_objective', { sweep: 'sw-min' }), 0.6);
    assert.equal(sampleValue(text, 'setrain_worker_trials_running', {}), 0);
    assert.doesNotMatch(
      text,
      /^setrain_trial_objective\{/m,
      'the running-trial gauge outlived its trial',
    );
    for (const label of FORBIDDEN_LABELS)
      assert.doesNotMatch(text, new RegExp(`[{,]${label}="`), `label ${label}`);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
  } finally {
    await server.close();
  }
});
