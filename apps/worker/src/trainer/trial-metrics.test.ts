import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { EpochMetrics } from '@setrain/protocol';

import { median, secondsPerEpoch } from './trial-metrics.js';

test('median of odd and even counts; NaN for none', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('seconds per epoch is the mean of the epochs durations', () => {
  const epoch = (n: number, durationMs: number): EpochMetrics => ({
    epoch: n,
    loss: 1,
    accuracy: 0.5,
    val_loss: 1,
    val_accuracy: 0.5,
    durationMs,
    imagesPerSec: 10,
  });
  assert.equal(secondsPerEpoch([epoch(1, 3000), epoch(2, 1000)]), 2);
  assert.equal(secondsPerEpoch([]), 0);
});
