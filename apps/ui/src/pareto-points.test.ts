import assert from 'node:assert/strict';
import { test } from 'node:test';

import { objectiveValuesOf, type ObjectiveItem, type TrialSummary } from '@setrain/protocol';

import { axisScale, paretoPointsOf, valuesOf } from './pareto-points.js';

function trial(n: number, status: TrialSummary['status'], accuracy: number | null): TrialSummary {
  return {
    trialId: `sw-ui.${n}`,
    trialNumber: n,
    status,
    params: {},
    epochsCompleted: 1,
    objectiveValue: accuracy,
    ...(n !== 4
      ? { trialMetrics: { param_count: 10 * n, latency_ms: n, seconds_per_epoch: 2 } }
      : {}),
  };
}

const objectives: ObjectiveItem[] = [
  { metric: 'val_accuracy', goal: 'maximize' },
  { metric: 'latency_ms', goal: 'minimize' },
  { metric: 'param_count', goal: 'minimize' },
];
const trials = [
  trial(1, 'completed', 0.9),
  trial(2, 'early-stopped', 0.7),
  trial(3, 'running', 0.8), // not finished
  trial(4, 'completed', 0.6), // no per-trial metrics (an older worker)
  trial(5, 'failed', null),
];

test('the plotted values: finished trials with every objective, as the API reads them', () => {
  for (const t of trials)
    assert.deepEqual(valuesOf(objectives, t), objectiveValuesOf(objectives, t));
  assert.deepEqual(paretoPointsOf(objectives, trials), [
    { trialId: 'sw-ui.1', trialNumber: 1, values: [0.9, 1, 10] },
    { trialId: 'sw-ui.2', trialNumber: 2, values: [0.7, 2, 20] },
  ]);
});

test('an axis maps its smallest value to 0 and its largest to 1 (one value: 0.5)', () => {
  const points = paretoPointsOf(objectives, trials);
  const scale = axisScale(points, 2);
  assert.deepEqual(
    [scale.min, scale.max, scale.at(10), scale.at(15), scale.at(20)],
    [10, 20, 0, 0.5, 1],
  );
  assert.equal(axisScale(points.slice(0, 1), 0).at(0.9), 0.5);
});
