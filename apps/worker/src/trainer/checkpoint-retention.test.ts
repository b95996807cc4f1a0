import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { CheckpointRoot, EpochMetrics } from '@setrain/protocol';

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
