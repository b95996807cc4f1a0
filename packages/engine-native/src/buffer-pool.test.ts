import assert from 'node:assert/strict';
import { test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { engineSkipReason } from '@setrain/testing';

import { Float32BufferPool, MAX_FIT_RATIO, MIN_POOLED_LENGTH } from './buffer-pool.js';
import { loadNativeBackend } from './load-native-backend.js';
import type { NativeBackend } from './native-backend.js';
import { nativeAddonUnavailableReason } from './addon.js';

const N = MIN_POOLED_LENGTH * 2;

test('the pool reuses its own arrays at the same length, once each, within its byte limit', () => {
  const pool = new Float32BufferPool(3 * N * 4);
  const a = pool.take(N);
  const b = pool.take(N);
  pool.give(a);
  pool.give(a); // a second give of the same array is ignored
  assert.equal(pool.heldBytes, N * 4);
  assert.equal(pool.take(N), a);
  assert.notEqual(pool.take(N), a, 'an array is handed out once per give');
  pool.give(new Float32Array(N)); // not the pool's: ignored
  assert.equal(pool.heldBytes, 0);
  pool.give(b);
  assert.notEqual(pool.take(N + 1), b, 'only the same length is reused');
  const small = pool.take(10);
  pool.give(small);
  assert.equal(pool.heldBytes, N * 4, 'short arrays are not pooled');
  const many = [pool.take(N), pool.take(N), pool.take(N), pool.take(N)];
  for (const values of many) pool.give(values);
  assert.ok(pool.heldBytes <= 3 * N * 4, `held ${pool.heldBytes} bytes over the limit`);
  pool.clear();
  assert.equal(pool.heldBytes, 0);
});

test('a shorter request takes the smallest idle array that fits, as a view of its start', () => {
  const pool = new Float32BufferPool();
  const large = pool.take(4 * N);
  const medium = pool.take(2 * N);
  pool.give(large);
  pool.give(medium);
  const view = pool.take(2 * N - 100);
  assert.equal(view.buffer, medium.buffer, 'best fit: the smaller of the two arrays that fit');
  assert.equal(view.byteOffset, 0);
  assert.equal(view.length, 2 * N - 100);
  assert.ok(pool.handedOut(view) && pool.handedOut(large) && !pool.handedOut(new Float32Array(N)));
  const tooShort = pool.take(Math.floor((4 * N) / MAX_FIT_RATIO) - 1);
  assert.notEqual(
    tooShort.buffer,
    large.buffer,
    `no view of an array over ${MAX_FIT_RATIO}x longer`,
  );
  // Giving the view back returns the whole array, which then serves its full length again.
  pool.give(view);
  pool.give(view);
  assert.equal(pool.heldBytes, (4 * N + 2 * N) * 4, 'a view returns its whole array, once');
  assert.equal(pool.take(2 * N), medium);
  assert.equal(pool.take(4 * N), large);
  assert.equal(pool.heldBytes, 0);
});

test(
  'native reuses a disposed output array, but never one that was read or shared',
  { skip: engineSkipReason('native', nativeAddonUnavailableReason()) },
  async () => {
    await loadNativeBackend({ threads: 1 });
    await tf.setBackend('native');
    const backend = tf.backend() as NativeBackend;
    const valuesOf = (t: tf.Tensor) => backend.data.get(t.dataId).values;
    const x = tf.randomUniform([N], -1, 1, 'float32', 1);

    const first = tf.relu(x);
    const firstValues = valuesOf(first);
    first.dispose();
    const second = tf.relu(x);
    assert.equal(valuesOf(second), firstValues, 'a disposed output array is reused');

    const read = second.dataSync();
    const snapshot = Float32Array.from(read);
    second.dispose();
    const third = tf.neg(x);
    assert.notEqual(valuesOf(third), read, 'an array read by dataSync is never reused');
    assert.deepEqual(read, snapshot, 'what dataSync returned never changes');

    // Reshape shares the array: disposing one of the two tensors must not free it.
    const fourth = tf.relu(x);
    const shared = tf.reshape(fourth, [2, N / 2]);
    fourth.dispose();
    const fifth = tf.neg(x);
    assert.notEqual(valuesOf(fifth), valuesOf(shared), 'an array still held is never reused');
    assert.deepEqual(
      Array.from(shared.dataSync().slice(0, 4)),
      Array.from(tf.relu(x).dataSync().slice(0, 4)),
    );
    tf.dispose([x, third, shared, fifth]);
  },
);

test(
  'native writes a shorter output into a view of a disposed array and updates it in place',
  { skip: engineSkipReason('native', nativeAddonUnavailableReason()) },
  async () => {
    await loadNativeBackend({ threads: 1 });
    await tf.setBackend('native');
    const backend = tf.backend() as NativeBackend;
    const valuesOf = (t: tf.Tensor) => backend.data.get(t.dataId).values as Float32Array;
    const long = tf.relu(tf.randomUniform([2 * N], -1, 1, 'float32', 2));
    const longBuffer = valuesOf(long).buffer;
    long.dispose();
    const x = tf.randomUniform([N + 8], -1, 1, 'float32', 3);
    const y = tf.neg(x);
    assert.equal(valuesOf(y).buffer, longBuffer, 'the shorter output is a view of the idle array');
    assert.equal(valuesOf(y).length, N + 8);
    assert.equal(backend.privateFloat32(y), valuesOf(y), 'a pool view may be updated in place');
    const expected = Array.from(x.dataSync(), (v) => -v);
    assert.deepEqual(Array.from(y.dataSync()), expected);
    tf.dispose([x, y]);
  },
);
