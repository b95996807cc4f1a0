import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  initializers,
  input,
  layers,
  model as functionalModel,
  type LayersModel,
  type SymbolicTensor,
} from '@tensorflow/tfjs-layers';

import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';
import { releaseConsumedOutputsInTraining } from './training-forward-release.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** Layer outputs of probeModel a training forward pass may release: conv, batch norm, relu (read
 * by two convolutions), the two branch convolutions, the concatenation, the identity activation's
 * output (tfjs-layers hands out a clone of an input returned as it is) and the pooling; never the
 * predictions. */
const RELEASABLE_OUTPUTS = 8;

type Layerish = { apply: (x: never) => unknown };
const on = (layer: Layerish, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor =>
  layer.apply(x as never) as SymbolicTensor;

/**
 * conv -> batch norm -> relu -> two convolutions (fan-out) -> concat -> identity -> pooling ->
 * softmax with plain SGD; its loss records tf.memory() when the forward pass has ended.
 */
function probeModel(atLoss: tf.MemoryInfo[]): LayersModel {
  const conv = (filters: number, seed: number, name: string): Layerish =>
    layers.conv2d({
      filters,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      name,
      kernelInitializer: initializers.glorotUniform({ seed }),
    });
  const pixels = input({ shape: [8, 8, 3], name: 'pixels' });
  const normalized = on(
    new ScaleFreeBatchNormalization({ name: 'bn' }),
    on(conv(6, 1, 'c'), pixels),
  );
  const relu = on(layers.activation({ activation: 'relu', name: 'relu' }), normalized);
  const joined = on(layers.concatenate({ name: 'cat' }), [
    on(conv(4, 2, 'a'), relu),
    on(conv(4, 3, 'b'), relu),
  ]);
  const same = on(layers.activation({ activation: 'linear', name: 'identity' }), joined);
  const pooled = on(layers.globalAveragePooling2d({ name: 'pool' }), same);
  const dense = layers.dense({
    units: 3,
    activation: 'softmax',
    name: 'predictions',
    kernelInitializer: initializers.glorotUniform({ seed: 4 }),
  });
  const model = functionalModel({ inputs: pixels, outputs: on(dense, pooled) });
  model.compile({
    optimizer: tf.train.sgd(0.1),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => {
      atLoss.push(tf.memory());
      return tf.neg(tf.sum(tf.mul(yTrue, tf.log(tf.add(yPred, 1e-7))), -1));
    },
  });
  return model;
}

interface Run {
  losses: number[];
  weights: Float32Array[];
  /** Tensors alive at the end of each forward pass, beyond those alive before the run. */
  aliveAtLoss: number[];
}

/** Three SGD steps on the same seeded batch; the caller's batch must survive them. */
async function train(release: boolean): Promise<Run> {
  const start = tf.memory().numTensors;
  const atLoss: tf.MemoryInfo[] = [];
  const model = probeModel(atLoss);
  if (release) releaseConsumedOutputsInTraining(model);
  const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 7);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) losses.push((await model.trainOnBatch(x, y)) as number);
  assert.equal(x.isDisposed || y.isDisposed, false, "the caller's batch was disposed");
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return { losses, weights, aliveAtLoss: atLoss.map((m) => m.numTensors - start) };
}

test('a training forward pass releases consumed layer outputs and trains exactly as before', async () => {
  const start = tf.memory().numTensors;
  const kept = await train(false);
  const between = tf.memory().numTensors;
  const released = await train(true);
  // The optimizer's constants outlive the model either way; nothing else may.
  assert.equal(tf.memory().numTensors - between, between - start, 'tensors leaked');
  assert.deepEqual(released.losses, kept.losses, 'losses differ');
  released.weights.forEach((w, i) => {
    assert.deepEqual(w, kept.weights[i], `weight ${i} differs`);
  });
  released.aliveAtLoss.forEach((alive, step) => {
    assert.equal(
      (kept.aliveAtLoss[step] ?? 0) - alive,
      RELEASABLE_OUTPUTS,
      `step ${step}: tensors alive at the end of the forward pass`,
    );
  });
});

test('prediction and evaluation are unchanged, and the model still trains after them', async () => {
  const model = probeModel([]);
  releaseConsumedOutputsInTraining(model);
  releaseConsumedOutputsInTraining(model); // a second call changes nothing
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 8);
  const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
  const first = (model.predict(x) as tf.Tensor).dataSync();
  const loss = (await model.trainOnBatch(x, y)) as number;
  assert.ok(Number.isFinite(loss));
  const evaluated = model.evaluate(x, y) as tf.Scalar;
  assert.ok(Number.isFinite(evaluated.dataSync()[0] ?? Number.NaN));
  assert.equal(first.length, 6);
  tf.dispose([x, y, evaluated]);
  model.dispose();
});

test('a model with a layer applied twice is left as it is', () => {
  const pixels = input({ shape: [4] });
  const shared = layers.dense({ units: 4, name: 'shared' });
  const model = functionalModel({ inputs: pixels, outputs: on(shared, on(shared, pixels)) });
  const before = Object.getOwnPropertyNames(shared);
  releaseConsumedOutputsInTraining(model);
  // A wrapped layer gets its own `apply`; this one still has only the prototype's.
  assert.deepEqual(Object.getOwnPropertyNames(shared), before);
  assert.ok(!before.includes('apply'));
});
