import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs' gradients, as the model's layers do.
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { closeness, engineSkipReason, valuesOn } from '@setrain/testing';

import { nativeAddonUnavailableReason } from './addon.js';
import { loadNativeBackend } from './load-native-backend.js';
import { pruneInputsNotFrom } from './tape-input-pruning.js';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());

test('each node keeps only the inputs that depend on the xs, in execution order', () => {
  const t = (id: number) => ({ id }) as tf.Tensor;
  const [w, c, image, a, b, d] = [t(1), t(2), t(3), t(4), t(5), t(6)];
  const scaled = { inputs: { x: image, scale: c }, outputs: [t(10)] };
  const conv = { inputs: { x: t(10), filter: w }, outputs: [a] };
  const both = { inputs: { a, b: c }, outputs: [b] };
  const unrelated = { inputs: { x: c }, outputs: [d] };
  const tape = [scaled, conv, both, unrelated];
  pruneInputsNotFrom(tape, [w]);
  assert.deepEqual(scaled.inputs, {});
  assert.deepEqual(conv.inputs, { filter: w });
  assert.deepEqual(both.inputs, { a });
  assert.deepEqual(unrelated.inputs, {});
});

describe('gradients on native with pruned tape inputs', { skip }, () => {
  before(async () => {
    await loadNativeBackend({ threads: 1 });
  });

  test('equal the cpu backend for variables among constants and non-trainable inputs', async () => {
    const run = (): tf.Tensor[] => {
      const w = tf.variable(tf.randomUniform([6, 4], -1, 1, 'float32', 1), true, 'prune_w');
      const v = tf.variable(tf.randomUniform([4], -1, 1, 'float32', 2), true, 'prune_v');
      const frozen = tf.variable(tf.randomUniform([4], -1, 1, 'float32', 3), false, 'prune_f');
      const x = tf.randomUniform([5, 6], -1, 1, 'float32', 4);
      const { value, grads } = tf.variableGrads(() => {
        const scaled = tf.mul(tf.add(x, tf.scalar(0.5)), tf.scalar(2));
        const h = tf.relu(tf.add(tf.matMul(scaled, w), tf.mul(v, frozen)));
        const side = tf.sum(tf.square(frozen)); // depends on no trainable variable
        return tf.add(tf.sum(tf.mul(h, h)), side);
      }, [w, v]);
      const out = [value, grads['prune_w'] as tf.Tensor, grads['prune_v'] as tf.Tensor];
      tf.dispose([w, v, frozen, x]);
      return out;
    };
    const expected = await valuesOn('cpu', run);
    const before = tf.memory().numTensors;
    const actual = await valuesOn('native', run);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    actual.forEach((a, i) => {
      const c = closeness(a, expected[i] as Float32Array, 1e-5, 1e-4);
      assert.ok(c <= 1, `output ${i}: closeness ${c.toFixed(2)}`);
    });
  });

  test('a loss that depends on no x still fails as tfjs says', async () => {
    await tf.setBackend('native');
    const x = tf.scalar(3);
    assert.throws(() => tf.grad(() => tf.scalar(1))(x), /Cannot compute gradient of y=f\(x\)/);
    x.dispose();
  });

  test('second-order gradients are unchanged', async () => {
    const run = (): tf.Tensor[] => {
      const x = tf.randomUniform([3, 5], -1, 1, 'float32', 8);
      const inner = (v: tf.Tensor): tf.Tensor =>
        tf.sum(tf.mul(tf.sigmoid(v), tf.mul(v, tf.scalar(1.5))));
      const second = tf.grad((v: tf.Tensor) => tf.sum(tf.grad(inner)(v)))(x);
      x.dispose();
      return [second];
    };
    const expected = await valuesOn('cpu', run);
    const actual = await valuesOn('native', run);
    const c = closeness(actual[0] as Float32Array, expected[0] as Float32Array, 1e-5, 1e-4);
    assert.ok(c <= 1, `closeness ${c.toFixed(2)}`);
  });
});
