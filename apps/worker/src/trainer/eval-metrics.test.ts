import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  binaryMetrics,
  categoricalMetrics,
  meanRocAuc,
  rocAuc,
  StreamingEvaluation,
} from './eval-metrics.js';
import { Prng } from '@setrain/sweep';

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

test('streaming evaluation takes batches of 256 x 1000 classes and matches the one-shot metrics', () => {
  const samples = 256;
  const classes = 1000;
  const random = Prng.forStream(11, 'eval-test');
  const batches = [0, 1].map(() => {
    const probs = new Float32Array(samples * classes).map(() => random.next());
    const targets = new Float32Array(samples * classes);
    for (let s = 0; s < samples; s++) targets[s * classes + ((s * 7) % classes)] = 1;
    return { probs, targets };
  });
  const categorical = new StreamingEvaluation(classes, false, false);
  const multiLabel = new StreamingEvaluation(classes, true, true);
  for (const { probs, targets } of batches) {
    categorical.add(probs, targets);
    multiLabel.add(probs, targets);
  }
  // The one-shot functions over both batches joined (built without spreading).
  const allProbs = new Float32Array(2 * samples * classes);
  const allTargets = new Float32Array(2 * samples * classes);
  batches.forEach(({ probs, targets }, i) => {
    allProbs.set(probs, i * samples * classes);
    allTargets.set(targets, i * samples * classes);
  });
  const expected = categoricalMetrics(allProbs, allTargets, classes);
  const got = categorical.result();
  assert.ok(Math.abs(got.loss - expected.loss) < 1e-9);
  assert.equal(got.accuracy, expected.accuracy);
  const binary = binaryMetrics(allProbs, allTargets);
  const gotBinary = multiLabel.result();
  assert.ok(Math.abs(gotBinary.loss - binary.loss) < 1e-9);
  assert.equal(gotBinary.accuracy, binary.accuracy);
  const auc = meanRocAuc(allProbs, allTargets, classes);
  assert.ok(auc !== undefined && gotBinary.auc !== undefined);
  assert.ok(Math.abs(gotBinary.auc - auc) < 1e-12);
  // Random scores: AUC near 0.5.
  assert.ok(Math.abs(gotBinary.auc - 0.5) < 0.1);
});
