import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initializers, input, layers, model as functionalModel } from '@tensorflow/tfjs-layers';
import { releaseConsumedOutputsInTraining, ScaleFreeBatchNormalization } from '@setrain/model';
import { engineSkipReason } from '@setrain/testing';

import { nativeAddonUnavailableReason } from './addon.js';
import { MAX_QUEUED_KERNELS } from './kernel-queue.js';
import { loadNativeBackend } from './load-native-backend.js';
import { NativeBackendError } from './native-backend-error.js';
import type { NativeBackend } from './native-backend.js';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());

async function useNative(asyncKernels: boolean, threads = 2): Promise<NativeBackend> {
  const info = await loadNativeBackend({ threads, asyncKernels });
  assert.equal(info.asyncKernels, asyncKernels);
  await tf.setBackend('native');
  return tf.backend() as NativeBackend;
}

after(async () => {
  await loadNativeBackend({ asyncKernels: true });
});

/** Three Adam steps of a small network with the layers the model uses (conv, the fused batch
 * norm, relu, branches joined by concat, pooling, dense): the losses and every weight after. */
async function trainSmallNetwork(): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const pixels = input({ shape: [16, 16, 3] });
  const conv = (filters: number, kernelSize: number, seed: number, from: typeof pixels) => {
    const c = layers.conv2d({
      filters,
      kernelSize,
      padding: 'same',
      useBias: false,
      kernelInitializer: initializers.glorotUniform({ seed }),
    });
    const bn = new ScaleFreeBatchNormalization({});
    return layers
      .activation({ activation: 'relu' })
      .apply(bn.apply(c.apply(from))) as typeof pixels;
  };
  const stem = conv(8, 3, 1, pixels);
  const joined = layers.concatenate({}).apply([conv(4, 1, 2, stem), conv(6, 3, 3, stem)]);
  const pooled = layers.globalAveragePooling2d({}).apply(joined);
  const dense = layers.dense({
    units: 3,
    kernelInitializer: initializers.glorotUniform({ seed: 4 }),
  });
  const model = functionalModel({ inputs: pixels, outputs: dense.apply(pooled) as typeof pixels });
  releaseConsumedOutputsInTraining(model);
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const images = tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', 5);
  const targets = tf.randomUniform([4, 3], -1, 1, 'float32', 6);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    losses.push((await model.trainOnBatch(images, targets)) as number);
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([images, targets]);
  optimizer.dispose();
  model.dispose();
  return { losses, weights };
}

test(
  'training gives bit-identical losses and weights with the kernel queue on and off',
  { skip },
  async () => {
    await useNative(false);
    const inline = await trainSmallNetwork();
    const backend = await useNative(true);
    const before = backend.queue.stats().kernelMs;
    const tensorsBefore = tf.memory().numTensors;
    const queued = await trainSmallNetwork();
    assert.ok(backend.queue.stats().kernelMs > before, "the kernels ran on the queue's thread");
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
    assert.deepEqual(queued.losses, inline.losses);
    assert.equal(queued.weights.length, inline.weights.length);
    queued.weights.forEach((w, i) => {
      assert.deepEqual(w, inline.weights[i], `weight ${i}`);
    });
  },
);

test(
  'an array reused for a new output is written only after queued kernels read it',
  { skip },
  async () => {
    const run = async (asyncKernels: boolean) => {
      const backend = await useNative(asyncKernels, 1);
      const valuesOf = (t: tf.Tensor) => backend.data.get(t.dataId).values as Float32Array;
      return tf.tidy(() => {
        const x = tf.randomUniform([8, 32, 32, 16], -1, 1, 'float32', 7);
        const w = tf.randomUniform([3, 3, 16, 16], -1, 1, 'float32', 8);
        const a = tf.relu(x);
        const aBuffer = valuesOf(a).buffer;
        const convolved = tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
        a.dispose();
        // Same length as `a`: the pool hands its array straight back, while (queued) the
        // convolution may not have read it yet.
        const overwritten = tf.neg(x);
        assert.equal(valuesOf(overwritten).buffer, aBuffer, 'the disposed array was reused');
        return [convolved.dataSync(), overwritten.dataSync()];
      });
    };
    const inline = await run(false);
    const queued = await run(true);
    assert.deepEqual(queued[0], inline[0]);
    assert.deepEqual(queued[1], inline[1]);
  },
);

test(
  'cpu-backend kernels and reads wait for the queued kernels that write their inputs',
  { skip },
  async () => {
    const backend = await useNative(true, 1);
    const { waits } = backend.queue.stats();
    const [floored, summed] = tf.tidy(() => {
      const x = tf.randomUniform([8, 32, 32, 16], -4, 4, 'float32', 9);
      const w = tf.randomUniform([3, 3, 16, 16], -1, 1, 'float32', 10);
      const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
      // Floor is the cpu backend's kernel on native: it reads y from JavaScript.
      return [tf.floor(y).dataSync(), tf.sum(y).dataSync()];
    });
    assert.ok(backend.queue.stats().waits > waits, 'JavaScript waited for the queue');
    await useNative(false, 1);
    const [expectedFloor, expectedSum] = tf.tidy(() => {
      const x = tf.randomUniform([8, 32, 32, 16], -4, 4, 'float32', 9);
      const w = tf.randomUniform([3, 3, 16, 16], -1, 1, 'float32', 10);
      const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
      return [tf.floor(y).dataSync(), tf.sum(y).dataSync()];
    });
    assert.deepEqual(floored, expectedFloor);
    assert.deepEqual(summed, expectedSum);
  },
);

test(
  "a queued kernel's failure surfaces once, as KERNEL_FAILED, and the queue keeps working",
  { skip },
  async () => {
    const backend = await useNative(true, 1);
    const y = new Float32Array(100 * 100);
    // An output size that does not follow from the input and filter: oneDNN refuses the primitive,
    // on the queue's thread, after the call returned.
    const badShape = Int32Array.from([1, 5, 5, 1, 100, 100, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0]);
    const ticket = backend.addon.conv2d(
      new Float32Array(25),
      new Float32Array(9),
      null,
      y,
      badShape,
      0,
    );
    assert.ok(ticket > 0, 'the kernel was queued');
    assert.throws(
      () => {
        backend.queue.sync(y);
      },
      (error: unknown) =>
        error instanceof NativeBackendError &&
        error.code === 'KERNEL_FAILED' &&
        /oneDNN: could not create a descriptor/.test(error.message) &&
        /asyncKernels: false/.test(error.message),
    );
    const relu = tf.tidy(() => Array.from(tf.relu(tf.tensor1d([-1, 2, -3, 4])).dataSync()));
    assert.deepEqual(relu, [0, 2, 0, 4]);
  },
);

test(
  'with the queue off, kernels run inside their call and return no ticket',
  { skip },
  async () => {
    const backend = await useNative(false, 1);
    const out = new Float32Array(4);
    const ticket = backend.addon.unary(0, Float32Array.from([-1, 2, -3, 4]), out, 0, 4);
    assert.equal(ticket, 0);
    assert.deepEqual(Array.from(out), [0, 2, 0, 4]);
  },
);

test(
  'a loop that reads nothing never queues more than MAX_QUEUED_KERNELS kernels',
  { skip },
  async () => {
    const backend = await useNative(true, 1);
    const { waits } = backend.queue.stats();
    // About a second of convolutions first, so the tiny kernels behind them pile up.
    const slow = tf.tidy(() => {
      const w = tf.randomUniform<tf.Rank.R4>([3, 3, 32, 32], -0.1, 0.1, 'float32', 11);
      let y = tf.randomUniform<tf.Rank.R4>([8, 64, 64, 32], -1, 1, 'float32', 12);
      for (let i = 0; i < 30; i++) y = tf.conv2d(y, w, 1, 'same');
      return y;
    });
    const x = Float32Array.from({ length: 16 }, (_, i) => i - 8);
    const out = new Float32Array(16);
    for (let i = 0; i < 3 * MAX_QUEUED_KERNELS; i++) backend.addon.unary(0, x, out, 0, 16);
    backend.queue.drain();
    const stats = backend.queue.stats();
    assert.ok(stats.deepestQueue <= MAX_QUEUED_KERNELS, `deepest queue ${stats.deepestQueue}`);
    assert.ok(stats.waits > waits, 'the loop waited for the queue');
    assert.deepEqual(
      Array.from(out),
      Array.from(x, (v) => Math.max(0, v)),
    );
    slow.dispose();
  },
);
