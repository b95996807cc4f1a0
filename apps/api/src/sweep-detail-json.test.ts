import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSweepSpec, sweepDetailSchema, type TrialState } from '@setrain/protocol';

import { sweepDetailJson } from './sweep-detail-json.js';
import { sweepRecordSchema } from './sweep-record.js';
import { TrialReadCache } from './trial-read-cache.js';
import { toSweepDetail } from './views.js';

const AT = '2026-12-02T10:00:00.000Z';
const RECORD = sweepRecordSchema.parse({
  id: 'swp-json',
  kind: 'sweep',
  name: 'json',
  spec: parseSweepSpec({
    dataset: 's3://data/shapes/manifest.jsonl',
    search: {
      strategy: 'random',
      parameters: { learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1 } },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 3,
  }),
  status: 'running',
  createdAt: AT,
  updatedAt: AT,
  plannedTrials: 3,
  startedTrials: 3,
  artifactsBucket: 'artifacts',
  sampler: 'random',
  best: { trialId: 'swp-json.1', params: { learningRate: 0.01 }, objectiveValue: 0.25 },
});
const TRIALS: TrialState[] = [
  {
    trialId: 'swp-json.1',
    trialNumber: 1,
    status: 'completed',
    params: { learningRate: 0.01 },
    epochsCompleted: 2,
    latest: {
      epoch: 2,
      loss: 0.2,
      accuracy: 0.9,
      val_loss: 0.25,
      val_accuracy: 0.875,
      durationMs: 1200,
      imagesPerSec: 31.5,
    },
    objectiveValue: 0.25,
    workerId: 'w-1',
    attempts: 1,
    jobStalls: 0,
    queuedAt: AT,
    startedAt: AT,
    finishedAt: AT,
    trialJson: 'runs/swp-json/trials/swp-json.1/trial.json',
    attemptsLog: [
      { attempt: 1, workerId: 'w-1', startedAt: AT, endedAt: AT, outcome: 'completed' },
    ],
  },
  {
    trialId: 'swp-json.2',
    trialNumber: 2,
    status: 'failed',
    reason: 'out of memory "quoted"\n',
    params: { learningRate: 0.1 },
    epochsCompleted: 0,
    objectiveValue: null,
    attempts: 3,
  },
  {
    trialId: 'swp-json.3',
    trialNumber: 3,
    status: 'queued',
    params: { learningRate: 0.001 },
    epochsCompleted: 0,
    objectiveValue: null,
    attempts: 0,
    queuedAt: AT,
  },
];

test('the sweep detail JSON is the document the response schema would serialise', () => {
  const expected = sweepDetailSchema.parse(toSweepDetail(RECORD, TRIALS));
  assert.deepEqual(JSON.parse(sweepDetailJson(RECORD, TRIALS)), expected);
  assert.deepEqual(
    JSON.parse(sweepDetailJson(RECORD, TRIALS, { submitter: 'alice' })),
    sweepDetailSchema.parse({ ...toSweepDetail(RECORD, TRIALS), submitter: 'alice' }),
  );
  assert.deepEqual(JSON.parse(sweepDetailJson(RECORD, [])), {
    ...sweepDetailSchema.parse(toSweepDetail(RECORD, [])),
    trials: [],
  });
});

test('shared (cached) trial states serialise once; a changed trial shows its new state', () => {
  const cache = new TrialReadCache(2);
  const first = cache.store(
    RECORD.id,
    'digest-1',
    TRIALS.map((t) => JSON.stringify(t)),
  );
  const states = first.map((t) => t.state);
  assert.ok(states.every((s) => Object.isFrozen(s)));
  assert.equal(sweepDetailJson(RECORD, states), sweepDetailJson(RECORD, TRIALS));
  // Trial 3 starts: only its JSON changes; the others keep their (frozen, shared) states.
  const running = { ...TRIALS[2], status: 'running', startedAt: AT } as TrialState;
  const raws = [...TRIALS.slice(0, 2), running].map((t) => JSON.stringify(t));
  const second = cache.store(RECORD.id, 'digest-2', raws);
  assert.equal(second[0]?.state, first[0]?.state);
  assert.notEqual(second[2]?.state, first[2]?.state);
  const shown = sweepDetailSchema.parse(
    JSON.parse(
      sweepDetailJson(
        RECORD,
        second.map((t) => t.state),
      ),
    ),
  );
  assert.equal(shown.trials[2]?.status, 'running');
  assert.equal(cache.hit(RECORD.id, 'digest-1'), undefined);
  assert.equal(cache.hit(RECORD.id, 'digest-2'), second);
  // Least recently used sweeps go first.
  cache.store('swp-other', 'd', []);
  cache.store('swp-third', 'd', []);
  assert.equal(cache.hit(RECORD.id, 'digest-2'), undefined);
});
