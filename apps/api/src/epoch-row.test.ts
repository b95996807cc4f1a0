import assert from 'node:assert/strict';
import { test } from 'node:test';

import { epochMetricsSchema, type EpochMetrics } from '@setrain/protocol';
import { ZodError } from 'zod';

import { parseEpochRow } from './epoch-row.js';

const epoch: EpochMetrics = {
  epoch: 3,
  loss: 0.5,
  accuracy: 0.8,
  val_loss: 0.6,
  val_accuracy: 0.7,
  durationMs: 1000,
  imagesPerSec: 12,
};

test('a stored epoch reads as the fields of its series', () => {
  assert.deepEqual(parseEpochRow(JSON.stringify(epoch)), epoch);
  assert.equal(parseEpochRow(JSON.stringify({ ...epoch, val_auc: 0.9 })).val_auc, 0.9);
});

test('a row the hand check refuses is refused as the schema refuses it, with its error', () => {
  for (const bad of [
    { ...epoch, loss: 'NaN' },
    { ...epoch, epoch: 0 },
    { ...epoch, epoch: 1.5 },
    { ...epoch, val_auc: null },
    { loss: 1 },
    null,
    [1, 2],
  ]) {
    assert.equal(epochMetricsSchema.safeParse(bad).success, false, JSON.stringify(bad));
    assert.throws(() => parseEpochRow(JSON.stringify(bad)), ZodError, JSON.stringify(bad));
  }
  assert.throws(() => parseEpochRow('{not json'), SyntaxError);
});
