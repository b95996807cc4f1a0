import assert from 'node:assert/strict';
import { test } from 'node:test';

import { binaryMetrics, categoricalMetrics, meanRocAuc, rocAuc } from './eval-metrics.js';

test('ROC AUC: perfect, inverted, ties and one-sided classes', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  assert.equal(rocAuc([0.1, 0.2], [1, 1]), undefined);
  // Two classes of two samples: class 0 perfect, class 1 has no negatives (skipped).
  assert.equal(meanRocAuc([0.9, 0.6, 0.1, 0.7], [1, 1, 0, 1], 2), 1);
});

test('losses match Keras on hand-computed values', () => {
  const binary = binaryMetrics([0.9, 0.2], [1, 0]);
  assert.ok(Math.abs(binary.loss - -(Math.log(0.9) + Math.log(0.8)) / 2) < 1e-9);
  assert.equal(binary.accuracy, 1);
  const categorical = categoricalMetrics([0.7, 0.2, 0.1, 0.3, 0.3, 0.4], [1, 0, 0, 0, 1, 0], 3);
  assert.ok(Math.abs(categorical.loss - -(Math.log(0.7) + Math.log(0.3)) / 2) < 1e-9);
  assert.equal(categorical.accuracy, 0.5);
  // A confident miss is clipped, not infinite.
  assert.ok(Number.isFinite(binaryMetrics([0], [1]).loss));
});
