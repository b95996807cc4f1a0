import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { TrialState, TrialStatus } from '@setrain/protocol';

import { paretoFrontOf } from './pareto-front.js';

function trial(
  n: number,
  status: TrialStatus,
  accuracy: number | null,
  latency?: number,
): TrialState {
  return {
    trialId: `sw-test.${n}`,
    trialNumber: n,
    status,
    params: { seRatio: n },
    epochsCompleted: 1,
    objectiveValue: accuracy,
    attempts: 1,
    ...(latency !== undefined
      ? { trialMetrics: { param_count: 100 * n, latency_ms: latency, seconds_per_epoch: 1 } }
      : {}),
  };
}

test('the front: finished trials with every value, none dominated, by trial number', () => {
  const spec = {
    objective: { metric: 'val_accuracy', goal: 'maximize' },
    objectives: [
      { metric: 'val_accuracy', goal: 'maximize' },
      { metric: 'latency_ms', goal: 'minimize' },
    ],
  } as const;
  const trials = [
    trial(1, 'completed', 0.9, 10), // front: most accurate
    trial(2, 'completed', 0.8, 12), // dominated by 1
    trial(3, 'early-stopped', 0.7, 5), // front: fastest
    trial(4, 'completed', 0.85, 8), // front: between
    trial(5, 'running', 0.99, 1), // not finished: ignored
    trial(6, 'completed', 0.95), // no latency (older worker): ignored
    trial(7, 'failed', null),
  ];
  const front = paretoFrontOf(spec, trials);
  assert.deepEqual(
    front.map((t) => [t.trialNumber, t.values]),
    [
      [1, [0.9, 10]],
      [3, [0.7, 5]],
      [4, [0.85, 8]],
    ],
  );
  assert.deepEqual(front[0]?.params, { seRatio: 1 });
  assert.deepEqual(paretoFrontOf(spec, []), []);
});
