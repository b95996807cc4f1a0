import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { TrialState, TrialStatus } from '@setrain/protocol';

import { frontHypervolumeOf, paretoFrontOf } from './pareto-front.js';

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

test("the front's hypervolume: against the spec's reference point, else one inferred from the front", () => {
  const objectives = [
    { metric: 'val_accuracy', goal: 'maximize' },
    { metric: 'latency_ms', goal: 'minimize' },
  ] as const;
  const spec = { objective: objectives[0], objectives };
  const front = paretoFrontOf(spec, [
    trial(1, 'completed', 0.9, 10),
    trial(2, 'completed', 0.8, 5),
  ]);
  // Given (0.5, 20): 0.4 x 10 for trial 1, plus (0.8 - 0.5) x (10 - 5) for trial 2.
  const given = frontHypervolumeOf({ ...spec, referencePoint: [0.5, 20] }, front);
  assert.equal(given?.referencePointFrom, 'spec');
  assert.deepEqual(given?.referencePoint, [0.5, 20]);
  assert.ok(Math.abs((given?.value ?? 0) - (0.4 * 10 + 0.3 * 5)) < 1e-9, JSON.stringify(given));
  // Inferred: 10% of the front's range beyond its worst, (0.79, 10.5): 0.11 x 0.5 + 0.01 x 5.
  const inferred = frontHypervolumeOf(spec, front);
  assert.equal(inferred?.referencePointFrom, 'front');
  assert.ok(Math.abs((inferred?.referencePoint[0] ?? 0) - 0.79) < 1e-12);
  assert.ok(Math.abs((inferred?.referencePoint[1] ?? 0) - 10.5) < 1e-12);
  assert.ok(Math.abs((inferred?.value ?? 0) - (0.11 * 0.5 + 0.01 * 5)) < 1e-9);
  assert.equal(frontHypervolumeOf(spec, []), undefined);
  assert.equal(frontHypervolumeOf({ ...spec, referencePoint: [0.5, 20] }, [])?.value, 0);
});
