import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type EpochSeries, type SweepSummary, type TrialSummary } from '@setrain/protocol';

import { applySweepEvent } from './sweep-state.js';

const sweep = { id: 'sw-test-ui', status: 'running' } as SweepSummary;
const trial = (n: number, status = 'running'): TrialSummary =>
  ({ trialId: `sw-test-ui.${n}`, trialNumber: n, status }) as TrialSummary;
const series = (from: number, loss: number[]): EpochSeries => ({
  from,
  loss,
  accuracy: loss,
  val_loss: loss,
  val_accuracy: loss,
  val_auc: loss.map(() => null),
});

test('updates replace changed trials, keep the others, and append new epochs once', () => {
  const a = applySweepEvent(undefined, {
    type: 'snapshot',
    sweep,
    trials: [trial(1), trial(2)],
    epochs: { 'sw-test-ui.1': series(1, [3, 2]) },
  });
  const update = {
    type: 'update' as const,
    sweep,
    trials: [trial(1, 'stalled')],
    epochs: { 'sw-test-ui.1': series(3, [1]) },
  };
  const b = applySweepEvent(a, update);
  assert.equal(b.trials.get('sw-test-ui.1')?.status, 'stalled');
  assert.equal(b.trials.get('sw-test-ui.2'), a.trials.get('sw-test-ui.2'), 'unchanged object');
  assert.deepEqual(b.epochs.get('sw-test-ui.1')?.loss, [3, 2, 1]);
  // A replayed update does not duplicate epochs.
  const c = applySweepEvent(b, update);
  assert.deepEqual(c.epochs.get('sw-test-ui.1')?.loss, [3, 2, 1]);
});
