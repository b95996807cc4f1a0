import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSweepSpec, trialIdOf, type TrialState, type TrialStatus } from '@setrain/protocol';

import { type SweepRecord } from '../sweep-record.js';
import {
  bestOf,
  failureCriterion,
  finishedRecord,
  settledOutcome,
  stopCriterion,
} from './budget.js';

const SWEEP_ID = 'sw-20260101-000000-abcdef';
const CREATED = new Date('2026-01-01T00:00:00.000Z');

function record(spec: Record<string, unknown> = {}): SweepRecord {
  return {
    id: SWEEP_ID,
    kind: 'sweep',
    spec: parseSweepSpec({
      dataset: 's3://bucket/datasets/shapes/manifest.jsonl',
      search: { strategy: 'grid', parameters: { dropout: [0.1, 0.2, 0.3, 0.4] } },
      objective: { metric: 'val_loss', goal: 'minimize' },
      maxTrials: 4,
      ...spec,
    }),
    status: 'running',
    createdAt: CREATED.toISOString(),
    updatedAt: CREATED.toISOString(),
    plannedTrials: 4,
    startedTrials: 4,
    artifactsBucket: 'bucket',
    sampler: 'grid',
    best: null,
    finalSweepJsonWritten: false,
    warmStart: [],
    version: 0,
  };
}

function trial(n: number, status: TrialStatus, objectiveValue: number | null = null): TrialState {
  return {
    trialId: trialIdOf(SWEEP_ID, n),
    trialNumber: n,
    status,
    params: { dropout: n / 10 },
    epochsCompleted: 1,
    objectiveValue,
    attempts: 1,
    queuedAt: CREATED.toISOString(),
  };
}

test('bestOf picks the best finished trial, keeps the earlier on ties and skips non-finite values', () => {
  const trials = [
    trial(1, 'completed', 0.5),
    trial(2, 'early-stopped', 0.3),
    trial(3, 'completed', 0.3),
    trial(4, 'completed', Number.NaN),
    trial(5, 'failed', 0.1),
    trial(6, 'running', 0.05),
  ];
  assert.deepEqual(bestOf('minimize', trials), {
    trialId: trialIdOf(SWEEP_ID, 2),
    params: { dropout: 0.2 },
    objectiveValue: 0.3,
  });
  assert.equal(bestOf('maximize', trials)?.trialId, trialIdOf(SWEEP_ID, 1));
  assert.equal(bestOf('minimize', [trial(1, 'failed'), trial(2, 'running')]), null);
});

test('failureCriterion fails the sweep only above maxFailedTrials, counting diverged trials', () => {
  const sweep = record({ maxFailedTrials: 1 });
  assert.equal(failureCriterion(sweep, [trial(1, 'failed'), trial(2, 'completed', 1)]), undefined);
  assert.equal(
    failureCriterion(sweep, [trial(1, 'failed'), trial(2, 'diverged')]),
    '2 trial(s) failed, more than maxFailedTrials (1)',
  );
});

test('stopCriterion names the target, patience and wall-clock budgets that end a sweep', () => {
  const best = { trialId: trialIdOf(SWEEP_ID, 1), params: { dropout: 0.1 }, objectiveValue: 0.2 };
  const target = { ...record({ budget: { targetObjective: 0.25 } }), best };
  assert.match(stopCriterion(target, [], CREATED) ?? '', /^target objective reached: trial /);
  const notYet = { ...target, best: { ...best, objectiveValue: 0.3 } };
  assert.equal(stopCriterion(notYet, [], CREATED), undefined);

  const patience = { ...record({ budget: { noImprovementTrials: 2 } }), best };
  const one = [trial(1, 'completed', 0.2), trial(2, 'completed', 0.4), trial(3, 'failed')];
  assert.equal(stopCriterion(patience, one, CREATED), undefined);
  assert.match(
    stopCriterion(patience, [...one, trial(4, 'diverged')], CREATED) ?? '',
    /^no improvement in 2 trials since trial /,
  );

  const clock = record({ budget: { maxWallClockSeconds: 60 } });
  assert.equal(stopCriterion(clock, [], new Date(CREATED.getTime() + 59_000)), undefined);
  assert.equal(
    stopCriterion(clock, [], new Date(CREATED.getTime() + 61_500)),
    'wall-clock budget of 60 s spent (61 s since the sweep was created)',
  );
  assert.equal(stopCriterion(record(), [], new Date(CREATED.getTime() + 1e9)), undefined);
});

test('finishedRecord stamps the status, reason and finish time', () => {
  const at = new Date('2026-01-01T01:00:00.000Z');
  const ended = finishedRecord(record(), 'failed', at, 'why');
  assert.equal(ended.status, 'failed');
  assert.equal(ended.reason, 'why');
  assert.equal(ended.finishedAt, at.toISOString());
  assert.equal('reason' in finishedRecord(record(), 'completed', at), false);
});

test('settledOutcome fails a sweep in which no trial succeeded, naming how its trials ended', () => {
  assert.deepEqual(settledOutcome([trial(1, 'failed'), trial(2, 'completed', 0.1)]), {
    status: 'completed',
  });
  assert.deepEqual(settledOutcome([trial(1, 'early-stopped', 0.1), trial(2, 'failed')]), {
    status: 'completed',
  });
  assert.deepEqual(settledOutcome([]), { status: 'completed' });
  const failed = [1, 2, 3, 4].map((n) => trial(n, 'failed'));
  assert.deepEqual(settledOutcome(failed), {
    status: 'failed',
    reason: 'no trial succeeded: 4 failed',
  });
  assert.deepEqual(settledOutcome([trial(1, 'failed'), trial(2, 'diverged')]), {
    status: 'failed',
    reason: 'no trial succeeded: 1 failed, 1 diverged',
  });
});
