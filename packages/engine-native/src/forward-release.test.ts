import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initializers, input, layers, model as functionalModel } from '@tensorflow/tfjs-layers';
import { releaseConsumedOutputsInTraining, ScaleFreeBatchNormalization } from '@setrain/model';
import { engineSkipReason } from '@setrain/testing';

import { nativeAddonUnavailableReason } from './addon.js';
import { loadNativeBackend } from './load-native-backend.js';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());
const BLOCKS = 5;

/** Data buffers alive at the end of each training forward pass of BLOCKS x (conv, batch norm,
 * relu), then pooling and a dense layer, beyond those alive before; and the losses. */
async function forwardBuffers(release: boolean): Promise<{ buffers: number[]; losses: number[] }> {
  const start = tf.memory().numDataBuffers;
  let x = input({ shape: [12, 12, 4] });
  const pixels = x;
  for (let i = 0; i < BLOCKS; i++) {
    const conv = layers.conv2d({
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      kernelInitializer: initializers.glorotUniform({ seed: i + 1 }),
    });
    const bn = new ScaleFreeBatchNormalization({});
    const relu = layers.activation({ activation: 'relu' });
    x = relu.apply(bn.apply(conv.apply(x))) as typeof x;
  }
  const pooled = layers.globalAveragePooling2d({}).apply(x);
  const dense = layers.dense({
    units: 2,
    kernelInitializer: initializers.glorotUniform({ seed: 9 }),
  });
  const model = functionalModel({ inputs: pixels, outputs: dense.apply(pooled) as typeof x });
  const buffers: number[] = [];
  model.compile({
    optimizer: tf.train.sgd(0.05),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => {
      buffers.push(tf.memory().numDataBuffers - start);
      return tf.losses.meanSquaredError(yTrue, yPred);
    },
  });
  if (release) releaseConsumedOutputsInTraining(model);
  const images = tf.randomUniform([4, 12, 12, 4], -1, 1, 'float32', 3);
  const targets = tf.randomUniform([4, 2], -1, 1, 'float32', 4);
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) {
    losses.push((await model.trainOnBatch(images, targets)) as number);
  }
  tf.dispose([images, targets]);
  model.dispose();
  return { buffers, losses };
}

before(async () => {
  if (skip === undefined) await loadNativeBackend({ threads: 1 });
});

test(
  'Relu saves its output for the gradient once native is loaded, and its gradient is unchanged',
  { skip },
  async () => {
    const config = tf.getGradient('Relu');
    assert.deepEqual(config?.inputsToSave, []);
    assert.deepEqual(config?.outputsToSave, [true]);
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2, -0, 3]);
    for (const backend of ['cpu', 'native']) {
      await tf.setBackend(backend);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), tf.scalar(3))))(x);
      assert.deepEqual(Array.from(dx.dataSync()), [0, 0, 0, 3, 3, 0, 3], backend);
      dx.dispose();
    }
    x.dispose();
  },
);

test(
  'on native, a training forward pass frees each batch-norm output once its ReLU has run',
  { skip },
  async () => {
    await tf.setBackend('native');
    const kept = await forwardBuffers(false);
    const released = await forwardBuffers(true);
    assert.deepEqual(released.losses, kept.losses);
    released.buffers.forEach((alive, step) => {
      // The convolution's output stays (batch norm saves it), so does the ReLU's (the next
      // convolution and its own gradient save it); the batch-norm output nothing saved goes.
      assert.equal((kept.buffers[step] ?? 0) - alive, BLOCKS, `step ${step}`);
    });
  },
);
