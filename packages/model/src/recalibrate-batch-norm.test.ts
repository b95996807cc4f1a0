import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { input, model } from '@tensorflow/tfjs-layers';

import { recalibrateBatchNorm } from './recalibrate-batch-norm.js';
import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';

before(async () => {
  await tf.setBackend('cpu');
});

function bnModel(trainable = true) {
  const x = input({ shape: [3] });
  const bn = new ScaleFreeBatchNormalization({ name: 'bn', trainable });
  return { net: model({ inputs: x, outputs: bn.apply(x) as never }), bn };
}

const batchValues = [
  [
    [1, 10, -1],
    [3, 14, -3],
  ],
  [
    [5, 20, 0],
    [7, 24, 2],
  ],
];

test('moving statistics become the exact mean of the batch statistics', async () => {
  const { net, bn } = bnModel();
  const before = tf.memory().numTensors;
  const batches = batchValues.map((b) => tf.tensor2d(b));
  const report = await recalibrateBatchNorm(net, batches);
  batches.forEach((b) => {
    b.dispose();
  });
  assert.deepEqual(report, { layers: 1, batches: 2 });
  const [, mean, variance] = bn.getWeights();
  // Batch means (2, 12, -2) and (6, 22, 1); unbiased batch variances (2, 8, 2) and (2, 8, 2).
  assert.deepEqual(Array.from(mean?.dataSync() ?? []), [4, 17, -0.5]);
  assert.deepEqual(Array.from(variance?.dataSync() ?? []), [2, 8, 2]);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  // Afterwards training-mode calls use the momentum again (0.99: a small step).
  tf.tidy(() => {
    net.apply(
      tf.tensor2d([
        [104, 117, 99.5],
        [104, 117, 99.5],
      ]),
      { training: true },
    );
  });
  const [, after] = bn.getWeights();
  assert.ok(
    Math.abs((after?.dataSync()[0] ?? 0) - 5) < 1e-4,
    'momentum 0.99 moves 1/100 of the way',
  );
});

test('frozen layers keep their statistics', async () => {
  const { net, bn } = bnModel(false);
  const batch = tf.tensor2d(batchValues[0] ?? []);
  const report = await recalibrateBatchNorm(net, [batch]);
  batch.dispose();
  assert.deepEqual(report, { layers: 0, batches: 1 });
  assert.deepEqual(Array.from(bn.getWeights()[1]?.dataSync() ?? []), [0, 0, 0]);
});
