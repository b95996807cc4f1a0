import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { TrialState, TrialStatus } from '@setrain/protocol';

import { trialsKeptByBestK } from './best-k-retention.js';

function trial(n: number, status: TrialStatus, accuracy: number | null, latency = 1): TrialState {
  return {
    trialId: `sw-keep.${n}`,
    trialNumber: n,
    status,
    params: {},
    epochsCompleted: 1,
    objectiveValue: accuracy,
    attempts: 1,
    trialMetrics: { param_count: 100, latency_ms: latency, seconds_per_epoch: 1 },
  };
}

const numbers = (kept: Set<string>) => [...kept].map((id) => Number(id.split('.')[1])).sort();

test('one objective: the k best by it, ties to the lower trial number', () => {
  const spec = { objective: { metric: 'val_loss', goal: 'minimize' } } as const;
  const trials = [
    trial(1, 'completed', 0.5),
    trial(2, 'completed', 0.3),
    trial(3, 'completed', 0.3),
    trial(4, 'failed', null),
  ];
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 2)), [2, 3]);
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 1)), [2]);
});

test('several objectives: every front trial even past k, then by non-dominated rank up to k', () => {
  const objectives = [
    { metric: 'val_accuracy', goal: 'maximize' },
    { metric: 'latency_ms', goal: 'minimize' },
  ] as const;
  const spec = { objective: objectives[0], objectives };
  const trials = [
    trial(1, 'completed', 0.84, 2), // front
    trial(2, 'completed', 0.96, 4), // front
    trial(3, 'early-stopped', 1, 6), // front
    trial(4, 'completed', 0.96, 8), // rank 1 (trial 2 dominates it)
    trial(5, 'completed', 0.84, 10), // rank 2 (trial 4 dominates it)
    trial(6, 'completed', 0.7, 12), // rank 3 (trial 5 dominates it)
    trial(7, 'running', 0.99, 1), // not finished
    trial(8, 'failed', null),
  ];
  // The front has 3 trials: k = 1 keeps all 3, as the most accurate one alone would lose two.
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 1)), [1, 2, 3]);
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 4)), [1, 2, 3, 4]);
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 5)), [1, 2, 3, 4, 5]);
  assert.deepEqual(numbers(trialsKeptByBestK(spec, trials, 20)), [1, 2, 3, 4, 5, 6]);
});
