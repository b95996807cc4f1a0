// initEngine's kernelQueue option reaches the native engine (the worker's
// SETRAIN_ENGINE_KERNEL_QUEUE travels this way).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '@setrain/engine';
import { nativeAddonUnavailableReason, type NativeBackend } from '@setrain/engine-native';
import { engineSkipReason } from '@setrain/testing';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());

test('initEngine turns the native kernel queue off and on again', { skip }, async () => {
  const off = await initEngine({ backend: 'native', threads: 1, kernelQueue: false });
  assert.doesNotMatch(off.description, /queued kernels/);
  assert.equal((tf.backend() as NativeBackend).queue.async, false);
  assert.equal(
    tf.tidy(() => tf.relu(tf.scalar(-2)).dataSync()[0]),
    0,
  );

  const byDefault = await initEngine({ backend: 'native', threads: 1 });
  assert.match(byDefault.description, /1 thread, queued kernels/);
  assert.equal((tf.backend() as NativeBackend).queue.async, true);
  assert.equal(
    tf.tidy(() => tf.relu(tf.scalar(3)).dataSync()[0]),
    3,
  );
});
