import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { CheckpointRoot, EpochMetrics } from '@setrain/protocol';
import { Prng } from '@setrain/sweep';

import { planRetention } from './checkpoint-retention.js';

const root = (epoch: number): CheckpointRoot => ({
  epoch,
  prefix: `runs/sw-x/trials/sw-x.1/checkpoints/epoch-000${epoch}/`,
  stateSha256: String(epoch).repeat(64).slice(0, 64),
});
const metrics = (epoch: number, valAccuracy: number): EpochMetrics => ({
  epoch,
  loss: 1,
  accuracy: 0.5,
  val_loss: 1,
  val_accuracy: valAccuracy,
  durationMs: 1,
  imagesPerSec: 1,
});
const objective = { metric: 'val_accuracy', goal: 'maximize' } as const;

test('latest-and-best keeps the latest and the best epoch, whatever the number of epochs', () => {
  const history = [metrics(1, 0.5), metrics(2, 0.9), metrics(3, 0.7), metrics(4, 0.8)];
  const plan = planRetention([root(2), root(3), root(4)], history, objective);
  assert.deepEqual(
    plan.keep.map((r) => r.epoch),
    [2, 4],
  );
  assert.deepEqual(
    plan.drop.map((r) => r.epoch),
    [3],
  );
});

test('the latest being the best leaves one checkpoint; all keeps every one', () => {
  const history = [metrics(1, 0.5), metrics(2, 0.9)];
  assert.deepEqual(
    planRetention([root(1), root(2)], history, objective).keep.map((r) => r.epoch),
    [2],
  );
  assert.deepEqual(
    planRetention([root(2), root(1)], history, objective, 'all').keep.map((r) => r.epoch),
    [1, 2],
  );
});

test('epoch after epoch, at most 2 checkpoints stay: the latest and the best so far', () => {
  // The epoch loop's use: each epoch's checkpoint joins the kept ones, the plan drops the rest.
  const random = Prng.forStream(11, 'retention-test');
  const history: EpochMetrics[] = [];
  let kept: CheckpointRoot[] = [];
  for (let epoch = 1; epoch <= 30; epoch++) {
    history.push(metrics(epoch, random.next()));
    const plan = planRetention([...kept, root(epoch)], history, objective);
    kept = plan.keep;
    const best = history.reduce((a, b) => (b.val_accuracy > a.val_accuracy ? b : a)).epoch;
    assert.ok(kept.length <= 2, `epoch ${epoch}: kept ${kept.length}`);
    assert.deepEqual(
      kept.map((r) => r.epoch),
      [...new Set([best, epoch])].sort((a, b) => a - b),
      `epoch ${epoch}`,
    );
  }
});
