import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { initEngine } from '@setrain/engine';
import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, sequential, type Sequential } from '@tensorflow/tfjs-layers';

import { seedDropoutForStep } from './dropout-seeds.js';
import { layerSeed } from './layer-seeds.js';

before(async () => {
  const engine = await initEngine({ backend: 'wasm' });
  assert.equal(engine.backend, 'wasm');
});

const SEED = 7;

/** A tiny model with a dropout layer, seeded as buildSeInceptionV3 seeds its head. */
function tinyModel(): Sequential {
  const model = sequential({
    layers: [
      layers.dropout({
        name: 'head_dropout',
        rate: 0.5,
        inputShape: [16],
        seed: layerSeed(SEED, 'head_dropout'),
      }),
      layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: initializers.glorotUniform({ seed: layerSeed(SEED, 'dense') }),
      }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
  return model;
}

/** Trains `steps` steps seeding dropout per step, with Math.random made to throw meanwhile. */
async function train(steps: number): Promise<number[]> {
  const model = tinyModel();
  const x = tf.tensor2d(
    Array.from({ length: 4 * 16 }, (_, i) => ((i * 7) % 11) / 11),
    [4, 16],
  );
  const y = tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3), 'float32');
  const random = Math.random;
  Math.random = () => {
    throw new Error('an unseeded random draw during training');
  };
  try {
    for (let step = 1; step <= steps; step++) {
      seedDropoutForStep(model, SEED, step);
      await model.trainOnBatch(x, y);
    }
  } finally {
    Math.random = random;
  }
  const kernel = Array.from(await model.layers[1]!.getWeights()[0]!.data());
  tf.dispose([x, y]);
  model.dispose();
  return kernel;
}

test('seeded dropout: two runs train to the same weights, with no Math.random draw', async () => {
  const first = await train(3);
  assert.deepEqual(await train(3), first);
});

test('seeded dropout draws a new mask at each step and the same one for the same step', () => {
  const model = tinyModel();
  const mask = (step: number): number[] => {
    seedDropoutForStep(model, SEED, step);
    return tf.tidy(() => {
      const out = model.layers[0]!.apply(tf.ones([1, 16]), { training: true }) as tf.Tensor;
      return Array.from(out.dataSync());
    });
  };
  const step1 = mask(1);
  assert.deepEqual(mask(1), step1, 'same step, same mask');
  assert.notDeepEqual(mask(2), step1, 'next step, another mask');
  model.dispose();
});
