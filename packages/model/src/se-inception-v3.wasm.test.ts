import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { initEngine } from '@setrain/engine';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel } from '@tensorflow/tfjs-layers';

import { countParams } from './count-params.js';
import { buildSeInceptionV3 } from './se-inception-v3.js';

before(async () => {
  const engine = await initEngine({ backend: 'wasm' });
  assert.equal(engine.backend, 'wasm');
});

/** Images whose class is where a bright square sits (one quadrant per class), on a noisy background;
 * raw 0..255 pixels as the model expects. */
function quadrantImages(size: number, classes: number[]): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const half = Math.floor(size / 2);
    const images = classes.map((label, i) => {
      const noise = tf.randomUniform([size, size, 3], 0, 80, 'float32', 100 + i);
      const row = label < 2 ? 0 : half;
      const col = label % 2 === 0 ? 0 : half;
      const square = tf.pad(tf.fill([half, half, 3], 170), [
        [row, size - half - row],
        [col, size - half - col],
        [0, 0],
      ]);
      return tf.add(noise, square);
    });
    return {
      x: tf.stack(images) as tf.Tensor4D,
      y: tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), 4), 'float32') as tf.Tensor2D,
    };
  });
}

test('the full SE-Inception v3 trains on the wasm engine: loss falls, no tensors leak per step', async () => {
  const model = buildSeInceptionV3({ numClasses: 4, inputSize: 75, dropout: 0, seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
  const { x, y } = quadrantImages(75, [0, 1, 2, 3]);
  const movingMeanBefore = model
    .getLayer('batch_normalization_1')
    .getWeights()[1]
    ?.dataSync()
    .slice();

  const losses: number[] = [];
  const tensorCounts: number[] = [];
  for (let step = 0; step < 3; step++) {
    losses.push((await model.trainOnBatch(x, y)) as number);
    tensorCounts.push(tf.memory().numTensors);
  }
  assert.ok(losses.every(Number.isFinite), `losses ${losses.join(', ')}`);
  assert.ok((losses[2] ?? Infinity) < (losses[0] ?? 0) * 0.8, `losses ${losses.join(', ')}`);
  // The first step creates the optimizer's slots; after that the count stays put.
  assert.equal(tensorCounts[2], tensorCounts[1], `tensors ${tensorCounts.join(', ')}`);
  const movingMeanAfter = model.getLayer('batch_normalization_1').getWeights()[1]?.dataSync();
  assert.ok(movingMeanBefore && movingMeanAfter);
  assert.notDeepEqual([...movingMeanAfter], [...movingMeanBefore]);

  tf.dispose([x, y]);
  model.optimizer.dispose();
  model.dispose();
});

test('a 299 px forward pass of the full model on the wasm engine', () => {
  const model = buildSeInceptionV3({ numClasses: 10 });
  const numTensors = tf.memory().numTensors;
  const probabilities = tf.tidy(() => {
    const pixels = tf.randomUniform([1, 299, 299, 3], 0, 255, 'float32', 7);
    return model.predict(pixels) as tf.Tensor;
  });
  assert.deepEqual(probabilities.shape, [1, 10]);
  assert.ok(probabilities.dataSync().every((p) => p > 0 && p < 1));
  probabilities.dispose();
  assert.equal(tf.memory().numTensors, numTensors);
  model.dispose();
});

test('the every-block model predicts at 75 px and round-trips through model.json', async () => {
  const numTensors = tf.memory().numTensors;
  const model = buildSeInceptionV3({
    numClasses: 5,
    inputSize: 75,
    headActivation: 'softmax',
    seed: 3,
  });
  const pixels = tf.randomUniform([2, 75, 75, 3], 0, 255, 'float32', 11);
  const predicted = model.predict(pixels) as tf.Tensor;
  assert.deepEqual(predicted.shape, [2, 5]);
  const rows = (await predicted.array()) as number[][];
  for (const row of rows) assert.ok(Math.abs(row.reduce((s, p) => s + p, 0) - 1) < 1e-5);

  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((artifacts) => {
      saved = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' },
      });
    }),
  );
  assert.ok(saved);
  assert.match(JSON.stringify(saved.modelTopology), /ScaleFreeBatchNormalization/);
  const loaded = await loadLayersModel(tf.io.fromMemory(saved));
  const again = loaded.predict(pixels) as tf.Tensor;
  assert.deepEqual(await again.data(), await predicted.data());
  assert.equal(countParams(loaded).total, countParams(model).total);

  tf.dispose([pixels, predicted, again]);
  model.dispose();
  loaded.dispose();
  assert.equal(tf.memory().numTensors, numTensors);
});
