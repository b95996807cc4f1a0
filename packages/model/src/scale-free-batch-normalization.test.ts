import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initializers, input, layers, loadLayersModel, model } from '@tensorflow/tfjs-layers';

import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';

before(async () => {
  await tf.setBackend('cpu');
});

function maxAbs(x: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(x)).dataSync()[0] ?? Number.NaN);
}

/** conv -> BN(scale=false) -> relu -> pool -> dense: the smallest model with the layer in it. */
function tinyModel(bn: tf.serialization.Serializable & { apply: (x: never) => unknown }) {
  const pixels = input({ shape: [6, 6, 2] });
  const conv = layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      useBias: false,
      kernelInitializer: initializers.glorotUniform({ seed: 1 }),
    })
    .apply(pixels);
  const normalized = bn.apply(conv as never);
  const relu = layers.activation({ activation: 'relu' }).apply(normalized as never);
  const pooled = layers.globalAveragePooling2d({}).apply(relu);
  const out = layers
    .dense({ units: 1, kernelInitializer: initializers.glorotUniform({ seed: 2 }) })
    .apply(pooled);
  return model({ inputs: pixels, outputs: out as never });
}

test('tfjs-layers BatchNormalization(scale: false) still crashes in training (tensorflow/tfjs#2868)', async () => {
  // If this starts passing, tfjs fixed the bug and the workaround may go.
  const broken = tinyModel(layers.batchNormalization({ scale: false }));
  broken.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  const [x, y] = [tf.randomUniform([4, 6, 6, 2], 0, 1, 'float32', 3), tf.ones([4, 1])];
  await assert.rejects(broken.trainOnBatch(x, y), /reading 'read'/);
  tf.dispose([x, y]);
  broken.dispose();
});

test('ScaleFreeBatchNormalization trains: loss falls, beta learns, moving statistics follow the batches', async () => {
  const bn = new ScaleFreeBatchNormalization({ name: 'bn', axis: 3 });
  const net = tinyModel(bn);
  assert.deepEqual(
    bn.weights.map((w) => [w.originalName, w.trainable]),
    [
      ['bn/beta', true],
      ['bn/moving_mean', false],
      ['bn/moving_variance', false],
    ],
  );
  net.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
  const x = tf.add(tf.randomUniform([8, 6, 6, 2], 0, 1, 'float32', 4), 3);
  const y = tf.reshape(tf.linspace(-1, 1, 8), [8, 1]);

  const losses: number[] = [];
  const tensorCounts: number[] = [];
  for (let step = 0; step < 30; step++) {
    losses.push((await net.trainOnBatch(x, y)) as number);
    tensorCounts.push(tf.memory().numTensors);
  }
  assert.ok(losses.every(Number.isFinite));
  assert.ok((losses.at(-1) ?? Infinity) < (losses[0] ?? 0) * 0.9, `losses ${losses.join(', ')}`);
  assert.ok(
    tensorCounts.every((n) => n === tensorCounts[0]),
    `tensors ${tensorCounts.join(', ')}`,
  );

  const [beta, movingMean, movingVariance] = bn.getWeights();
  assert.ok(beta && movingMean && movingVariance);
  assert.ok(maxAbs(beta) > 0, 'beta is still zero');
  assert.ok((await movingMean.data()).every((v) => v !== 0));
  assert.ok((await movingVariance.data()).every((v) => v !== 1));
  tf.dispose([x, y]);
  net.dispose();
});

test('a training call moves the statistics by (1 - momentum) toward the batch mean and unbiased variance', () => {
  const bn = new ScaleFreeBatchNormalization({ name: 'bn', momentum: 0.9 });
  const x = tf.randomNormal([2, 3, 3, 4], 1, 2, 'float32', 5);
  const out = bn.apply(x, { training: true }) as tf.Tensor;
  const [, movingMean, movingVariance] = bn.getWeights();
  assert.ok(movingMean && movingVariance);
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const n = 2 * 3 * 3;
  assert.ok(maxAbs(tf.sub(movingMean, tf.mul(mean, 0.1))) < 1e-6);
  assert.ok(
    maxAbs(tf.sub(movingVariance, tf.add(0.9, tf.mul(variance, (0.1 * n) / (n - 1))))) < 1e-6,
  );
  // Training output is normalized with the batch statistics (beta is zero).
  const normalized = tf.moments(out, [0, 1, 2]);
  assert.ok(maxAbs(normalized.mean) < 1e-5);
  tf.dispose([x, out, mean, variance, normalized.mean, normalized.variance]);
});

test('a frozen layer (trainable = false) uses and keeps its moving statistics in training', () => {
  const bn = new ScaleFreeBatchNormalization({ name: 'bn' });
  const x = tf.randomNormal([2, 3, 3, 4], 1, 2, 'float32', 6);
  const inference = bn.apply(x) as tf.Tensor;
  bn.trainable = false;
  const frozenTraining = bn.apply(x, { training: true }) as tf.Tensor;
  assert.equal(maxAbs(tf.sub(frozenTraining, inference)), 0);
  const [, movingMean, movingVariance] = bn.getWeights();
  assert.ok(movingMean && movingVariance);
  assert.equal(maxAbs(movingMean), 0);
  assert.equal(maxAbs(tf.sub(movingVariance, 1)), 0);
  tf.dispose([x, inference, frozenTraining]);
});

test('inference matches tfjs BatchNormalization with gamma = 1 and the same statistics', () => {
  const ours = new ScaleFreeBatchNormalization({ name: 'ours', epsilon: 0.001 });
  const reference = layers.batchNormalization({ name: 'reference', epsilon: 0.001 });
  const x = tf.randomNormal([2, 3, 3, 5], 0, 2, 'float32', 7);
  ours.apply(x);
  reference.apply(x);
  const beta = tf.tensor1d([0.1, -0.2, 0.3, 0, 1]);
  const mean = tf.tensor1d([0.5, 0, -1, 2, 0]);
  const variance = tf.tensor1d([1, 2, 0.5, 4, 9]);
  ours.setWeights([beta, mean, variance]);
  reference.setWeights([tf.ones([5]), beta, mean, variance]);
  const a = ours.apply(x) as tf.Tensor;
  const b = reference.apply(x) as tf.Tensor;
  assert.ok(maxAbs(tf.sub(a, b)) < 1e-5);
  tf.dispose([x, beta, mean, variance, a, b]);
});

test('ScaleFreeBatchNormalization round-trips through model.json', async () => {
  const bn = new ScaleFreeBatchNormalization({ name: 'bn', momentum: 0.9, epsilon: 0.01 });
  const net = tinyModel(bn);
  let saved: tf.io.ModelArtifacts | undefined;
  await net.save(
    tf.io.withSaveHandler((artifacts) => {
      saved = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' },
      });
    }),
  );
  assert.ok(saved);
  const loaded = await loadLayersModel(tf.io.fromMemory(saved));
  const layer = loaded.getLayer('bn');
  assert.ok(layer instanceof ScaleFreeBatchNormalization);
  assert.deepEqual([layer.momentum, layer.epsilon], [0.9, 0.01]);
  assert.equal(layer.weights.length, 3);
  net.dispose();
  loaded.dispose();
});
