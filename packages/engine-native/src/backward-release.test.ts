import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs' gradients, as the model's layers do.
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { closeness, engineSkipReason, valuesOn } from '@setrain/testing';

import { nativeAddonUnavailableReason } from './addon.js';
import { loadNativeBackend } from './load-native-backend.js';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());

const SHAPE = [64, 64];
const LINKS = 12;

/**
 * The data buffers alive each time the backward pass reaches a probe: an op whose gradient only
 * counts them. (tf.profile's peakBytes counts a buffer once per tensor that shares it, and every op
 * keeps clones of what it saves, so it cannot show this.)
 */
function probed(samples: number[]): (x: tf.Tensor) => tf.Tensor {
  const probe = tf.customGrad((...args) => {
    // customGrad passes the inputs, then a save function this op does not need.
    const x = args[0] as tf.Tensor;
    return {
      value: tf.clone(x),
      gradFunc: (dy) => {
        samples.push(tf.memory().numDataBuffers);
        return tf.clone(dy);
      },
    };
  });
  return (x) => probe(x);
}

/** A chain of LINKS x (mul, relu, probe): each op keeps an activation for its gradient. */
function chain(samples: number[]): (x: tf.Tensor) => tf.Tensor {
  const probe = probed(samples);
  return (x) => {
    let y = x;
    for (let i = 0; i < LINKS; i++) y = probe(tf.relu(tf.mul(y, tf.scalar(1.01))));
    return tf.sum(y);
  };
}

/** The chain's gradient on `backend` and the buffers alive at each probe, last op first. */
async function gradientAndBuffers(
  backend: string,
): Promise<{ grad: Float32Array; buffers: number[] }> {
  await tf.setBackend(backend);
  const x = tf.randomUniform(SHAPE, -1, 1, 'float32', 3);
  const buffers: number[] = [];
  const grad = tf.grad(chain(buffers))(x);
  const values = (await grad.data()) as Float32Array;
  tf.dispose([x, grad]);
  return { grad: values, buffers };
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const c = closeness(actual, expected, 1e-5, 1e-4);
  assert.ok(c <= 1, `${what}: native differs from the cpu backend (closeness ${c.toFixed(2)})`);
}

describe('backward passes on native release what each op no longer needs', { skip }, () => {
  before(async () => {
    await loadNativeBackend({ threads: 1 });
  });

  test('a chain frees activations and gradients as the backward pass goes', async () => {
    const cpu = await gradientAndBuffers('cpu');
    const before = tf.memory().numTensors;
    const native = await gradientAndBuffers('native');
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assertClose(native.grad, cpu.grad, 'gradient');
    assert.equal(native.buffers.length, LINKS);
    const first = (b: number[]): number => b[0] ?? 0;
    const last = (b: number[]): number => b[b.length - 1] ?? 0;
    // cpu (tfjs' own behaviour): every op's output gradient stays until the pass ends, on top of
    // the activations. native: each link's activations and gradients go once it is done.
    assert.ok(last(cpu.buffers) >= first(cpu.buffers) + LINKS, `cpu: ${cpu.buffers.join(' ')}`);
    assert.ok(
      last(native.buffers) <= first(native.buffers) - 2 * (LINKS - 2),
      `native: ${native.buffers.join(' ')}`,
    );
  });

  test('fan-out, several outputs, and a dy the caller passed in', async () => {
    const f = (x: tf.Tensor): tf.Tensor => {
      const [a, b, c] = tf.split(tf.mul(x, x), [3, 3, 2], 1);
      // x feeds three ops; a is read twice.
      return tf.concat(
        [
          tf.relu(a as tf.Tensor),
          tf.mul(a as tf.Tensor, b as tf.Tensor),
          tf.add(c as tf.Tensor, tf.slice(x, [0, 0], [4, 2])),
        ],
        1,
      );
    };
    const run = (): tf.Tensor[] => {
      const x = tf.randomUniform([4, 8], -1, 1, 'float32', 5);
      const dy = tf.randomUniform([4, 8], -1, 1, 'float32', 6);
      const grad = tf.grad(f)(x, dy);
      // The caller's dy is still usable after the backward pass.
      assert.equal(dy.isDisposed, false);
      const out = [grad, tf.mul(dy, 2)];
      tf.dispose([x, dy]);
      return out;
    };
    const expected = await valuesOn('cpu', run);
    await tf.setBackend('native');
    const before = tf.memory().numTensors;
    const actual = await valuesOn('native', run);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    actual.forEach((a, i) => {
      assertClose(a, expected[i] as Float32Array, `output ${i}`);
    });
  });

  test('second-order gradients are unchanged (nothing is released while a tape records)', async () => {
    const run = (): tf.Tensor[] => {
      const x = tf.randomUniform([3, 5], -1, 1, 'float32', 8);
      const inner = (v: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.sigmoid(v), tf.mul(v, v)));
      const second = tf.grad((v: tf.Tensor) => tf.sum(tf.grad(inner)(v)))(x);
      x.dispose();
      return [second];
    };
    const expected = await valuesOn('cpu', run);
    const actual = await valuesOn('native', run);
    actual.forEach((a, i) => {
      assertClose(a, expected[i] as Float32Array, `second-order ${i}`);
    });
  });
});
