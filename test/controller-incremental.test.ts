// The sweep controller's incremental advances, against a real redis-server and s3rver: the trial
// cache re-reads only unfinished trials while this process wrote the sweep last and reads
// everything otherwise; two API replicas driving one sweep from queue events alone (no reconcile
// pass after the first) run every trial exactly once and find the best; a pass over a sweep this
// controller already settled does not archive it again.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SweepController, SweepStore, TrialCache } from '@setrain/api';
import {
  sweepSpecSchema,
  TRIALS_QUEUE,
  type TrialPayload,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { Queue, type Job } from 'bullmq';

import { useApiTestFile } from './api-world.js';

const api = useApiTestFile({
  label: 'incremental',
  apiKey: 'test-key-0123456789abcdef',
  // Only the first reconcile pass runs: every later advance comes from a queue event.
  appDeps: { metrics: false, reconcileIntervalMs: 600_000 },
  sharedWorld: true,
});

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

function trial(n: number, status: TrialState['status']): TrialState {
  return {
    trialId: `swp-cache.${n}`,
    trialNumber: n,
    status,
    params: { learningRate: n / 100 },
    epochsCompleted: 0,
    objectiveValue: status === 'completed' ? n : null,
    attempts: 1,
  };
}

test('the trial cache re-reads unfinished trials only while the record is at the version it saw', async () => {
  const store = new SweepStore(api.sharedWorld.redis, `${api.sharedWorld.prefix}:cache`);
  const record = { id: 'swp-cache', version: 7 };
  for (const t of [trial(1, 'completed'), trial(2, 'running'), trial(3, 'queued')]) {
    assert.equal(await store.compareAndSetTrial(record.id, t, undefined), true);
  }
  const cache = new TrialCache(store);
  const first = await cache.read(record, false);
  assert.equal(first.full, true, 'nothing cached yet: a full read');
  assert.deepEqual(
    first.trials.map((t) => t.state.status),
    ['completed', 'running', 'queued'],
  );
  cache.remember(record.id, record.version, first.trials);

  // A worker ends trial 2 and rewrites finished trial 1: only the unfinished one is re-read.
  const [one, two] = first.trials;
  assert.ok(one !== undefined && two !== undefined);
  const ended = { ...trial(2, 'completed'), objectiveValue: 0.5 };
  assert.equal(await store.compareAndSetTrial(record.id, ended, two.raw), true);
  const rewritten = { ...one.state, reason: 'rewritten' };
  assert.equal(await store.compareAndSetTrial(record.id, rewritten, one.raw), true);
  const second = await cache.read(record, false);
  assert.equal(second.full, false);
  assert.deepEqual(second.trials[1]?.state, ended);
  assert.equal(second.trials[0]?.state.reason, undefined, 'a finished trial is not re-read');

  // A trial added without a record write (another replica crashed in between): a full read.
  cache.remember(record.id, record.version, second.trials);
  assert.equal(await store.compareAndSetTrial(record.id, trial(4, 'queued'), undefined), true);
  const third = await cache.read(record, false);
  assert.equal(third.full, true);
  assert.deepEqual(
    third.trials.map((t) => t.state.trialNumber),
    [1, 2, 3, 4],
  );
  assert.equal(third.trials[0]?.state.reason, 'rewritten');

  // The record written by someone else (a newer version), or a full pass: everything is read.
  cache.remember(record.id, record.version, third.trials);
  assert.equal((await cache.read({ ...record, version: 8 }, false)).full, true);
  cache.remember(record.id, record.version, third.trials);
  assert.equal((await cache.read(record, true)).full, true);
});

test('two replicas drive a 40-trial sweep from queue events: each trial runs once, the best wins', async () => {
  await api.sharedWorld.app();
  const app = await api.sharedWorld.app();
  const runs = new Map<string, number>();
  const objective = (job: Job<TrialPayload>): number =>
    Math.abs(Math.log10(Number(job.data.params['learningRate'])) + 3);
  for (let i = 0; i < 4; i++) {
    api.sharedWorld.worker((job) => {
      runs.set(job.data.trialId, (runs.get(job.data.trialId) ?? 0) + 1);
      return Promise.resolve({
        trialId: job.data.trialId,
        status: 'completed',
        objectiveValue: objective(job),
        bestEpoch: 1,
        epochsCompleted: 1,
        trialJson: `runs/${job.data.sweepId}/trials/${job.data.trialId}/trial.json`,
      });
    });
  }
  const { id } = await api.createSweep(app, {
    dataset: api.sharedWorld.dataset,
    training: { epochs: 1, seed: 3 },
    search: {
      strategy: 'random',
      parameters: { learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1 } },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 40,
    parallelism: 4,
  });
  const sweep = await api.untilSweep(
    app,
    id,
    (s) => s.status === 'completed',
    'the 40-trial sweep to complete',
    60_000,
  );
  assert.equal(sweep.startedTrials, 40);
  assert.equal(sweep.trials.length, 40);
  assert.equal(sweep.counts.completed, 40);
  assert.deepEqual([...runs.values()].sort(), new Array<number>(40).fill(1));
  const values = sweep.trials.map((t) => t.objectiveValue ?? Infinity);
  assert.equal(sweep.best?.objectiveValue, Math.min(...values));
});

test('a pass over a sweep this controller settled does not archive it again', async () => {
  const prefix = `${api.sharedWorld.prefix}:settle`;
  const store = new SweepStore(api.sharedWorld.redis, prefix);
  const queue = new Queue<TrialPayload, TrialResult>(TRIALS_QUEUE, {
    connection: api.sharedWorld.redis,
    prefix,
  });
  let archived = 0;
  const controller = new SweepController({
    store,
    queue,
    s3: api.s3.client,
    artifactsBucket: api.sharedWorld.bucket,
    logger: SILENT,
    archive: {
      archive: () => {
        archived += 1;
        return Promise.resolve();
      },
    },
  });
  try {
    const spec = sweepSpecSchema.parse({
      dataset: api.sharedWorld.dataset,
      training: { epochs: 1, seed: 4 },
      search: { strategy: 'grid', parameters: { dropout: [0.1] } },
      objective: { metric: 'val_loss', goal: 'minimize' },
      parallelism: 1,
    });
    const record = await controller.createSweep({ spec, kind: 'sweep' });
    // Its worker ends the trial (the state first, as workers do); the job is gone.
    const [queued] = await store.getStoredTrials(record.id);
    assert.ok(queued !== undefined);
    const done = { ...queued.state, status: 'completed' as const, objectiveValue: 0.5 };
    assert.equal(await store.compareAndSetTrial(record.id, done, queued.raw), true);
    await queue.remove(queued.state.trialId);
    await controller.advance(record.id);
    assert.equal((await store.getSweep(record.id))?.status, 'completed');
    assert.equal(archived, 1);
    // What a late queue event or the reconcile loop does after the sweep has settled.
    await controller.advance(record.id);
    await controller.advance(record.id);
    assert.equal(archived, 1, 'archived once');
  } finally {
    await controller.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
});
