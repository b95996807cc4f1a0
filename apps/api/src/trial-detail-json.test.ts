import assert from 'node:assert/strict';
import { test } from 'node:test';

import { trialDetailSchema, type EpochMetrics, type TrialState } from '@setrain/protocol';

import { trialDetailJson } from './trial-detail-json.js';
import { toTrialDetail } from './views.js';

const AT = '2026-12-03T10:00:00.000Z';
const EPOCHS: EpochMetrics[] = [1, 2].map((epoch) => ({
  epoch,
  loss: 1 / epoch,
  accuracy: 0.5 + epoch / 10,
  val_loss: 1.1 / epoch,
  val_accuracy: 0.45 + epoch / 10,
  durationMs: 900 + epoch,
  imagesPerSec: 30.25,
  ...(epoch === 2
    ? { checkpoint: 'runs/sw-t/trials/sw-t.1/checkpoints/epoch-0002', val_auc: 0.8 }
    : {}),
}));
const STATES: TrialState[] = [
  {
    trialId: 'sw-t.1',
    trialNumber: 1,
    status: 'running',
    params: { learningRate: 0.01, dropout: 0.2 },
    epochsCompleted: 2,
    latest: EPOCHS[1],
    objectiveValue: null,
    workerId: 'w-1',
    attempts: 2,
    jobStalls: 1,
    queuedAt: AT,
    startedAt: AT,
    trialJson: 'runs/sw-t/trials/sw-t.1/trial.json',
    attemptsLog: [
      { attempt: 1, workerId: 'w-0', startedAt: AT, endedAt: AT, outcome: 'stalled' },
      { attempt: 2, workerId: 'w-1', startedAt: AT },
    ],
  },
  {
    trialId: 'sw-t.2',
    trialNumber: 2,
    status: 'failed',
    reason: 'diverged: loss "NaN"\n',
    params: { learningRate: 0.5 },
    epochsCompleted: 0,
    objectiveValue: null,
    attempts: 1,
  },
];

test('the trial detail JSON is the document the response schema would serialise', () => {
  for (const state of STATES) {
    for (const epochs of [EPOCHS, []]) {
      const expected = trialDetailSchema.parse(toTrialDetail('sw-t', state, epochs));
      assert.deepEqual(JSON.parse(trialDetailJson('sw-t', state, epochs)), expected);
    }
  }
});
