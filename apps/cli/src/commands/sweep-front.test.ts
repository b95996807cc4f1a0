import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { SweepDetail, TrialSummary } from '@setrain/protocol';

import { renderSweep } from './sweep.js';

function trial(n: number, latency: number): TrialSummary {
  return {
    trialId: `sw-front.${n}`,
    trialNumber: n,
    status: 'completed',
    params: { dropout: n / 10 },
    epochsCompleted: 1,
    objectiveValue: 0.5 + n / 10,
    trialMetrics: { param_count: 1000, latency_ms: latency, seconds_per_epoch: 1 },
  };
}

test('sweep status marks every Pareto front trial and shows the objectives metrics', () => {
  const counts = { queued: 0, running: 0, stalled: 0, requeued: 0, completed: 3 };
  const sweep = {
    id: 'sw-front',
    kind: 'sweep',
    status: 'completed',
    createdAt: '2026-12-02T00:00:00.000Z',
    plannedTrials: 3,
    startedTrials: 3,
    counts: { ...counts, 'early-stopped': 0, failed: 0, diverged: 0, cancelled: 0, total: 3 },
    objective: { metric: 'val_accuracy', goal: 'maximize' },
    objectives: [
      { metric: 'val_accuracy', goal: 'maximize' },
      { metric: 'latency_ms', goal: 'minimize' },
    ],
    best: null,
    spec: { training: { epochs: 1 } },
    trials: [trial(1, 2), trial(2, 9), trial(3, 4)],
    front: [1, 3],
    hypervolume: { value: 1.25, referencePoint: [0.5, 10], referencePointFrom: 'spec' },
  } as SweepDetail;
  const lines = renderSweep(sweep).split('\n');
  assert.match(
    lines[0] ?? '',
    /objectives maximize val_accuracy, minimize latency_ms; Pareto front 2 trial\(s\), marked \*; hypervolume 1\.25 \(reference point \(0\.5, 10\) from spec\)$/,
  );
  assert.match(lines[1] ?? '', /LATENCY_MS/);
  const marks = lines.slice(2).map((l) => l.trimStart().startsWith('*'));
  assert.deepEqual(marks, [true, false, true]);
});
