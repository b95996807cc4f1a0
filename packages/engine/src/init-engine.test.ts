import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';

import { EngineError } from './engine-error.js';
import { BACKEND_NAMES, type EngineName } from './engine-names.js';
import { initEngine } from './init-engine.js';
import { TFJS_NODE_PACKAGES } from './loaders/tensorflow.js';

const WEBGPU_TIMEOUT_MS = 20_000;

function isInstalled(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

test('auto takes the first engine that loads and says why each earlier one was skipped', async () => {
  const info = await initEngine({ backend: 'auto', webgpuTimeoutMs: WEBGPU_TIMEOUT_MS });
  assert.equal(info.requested, 'auto');
  assert.equal(tf.getBackend(), info.backend);
  const chosen = BACKEND_NAMES.indexOf(info.backend);
  assert.deepEqual(
    info.skipped.map((skip) => skip.backend),
    BACKEND_NAMES.slice(0, chosen),
  );
  for (const skip of info.skipped)
    assert.ok(skip.reason.length > 0, `${skip.backend} has a reason`);
  const tensorflow = info.skipped.find((skip) => skip.backend === 'tensorflow');
  if (tensorflow !== undefined && !TFJS_NODE_PACKAGES.some(isInstalled)) {
    assert.match(tensorflow.reason, /@tensorflow\/tfjs-node-gpu is not installed \(see README/);
  }
  const webgpu = info.skipped.find((skip) => skip.backend === 'webgpu');
  if (webgpu !== undefined) {
    // A CPU machine: a software adapter, or Dawn/Vulkan missing; either way a reason, not a hang.
    assert.match(webgpu.reason, /software adapter|Dawn|adapter|device/);
  }
  assert.ok(info.description.length > 0);
});

test('a named engine that is not installed fails with ENGINE_UNAVAILABLE and the reason', async (t) => {
  if (TFJS_NODE_PACKAGES.some(isInstalled)) {
    t.skip('tfjs-node is installed here');
    return;
  }
  await assert.rejects(
    initEngine({ backend: 'tensorflow' }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.code === 'ENGINE_UNAVAILABLE' &&
      /@tensorflow\/tfjs-node-gpu is not installed/.test(error.message) &&
      /@tensorflow\/tfjs-node is not installed/.test(error.message),
  );
});

test('a bad engine name is refused with the allowed values', async () => {
  await assert.rejects(
    initEngine({ backend: 'tpu' as EngineName }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.code === 'ENGINE_UNKNOWN' &&
      /allowed: auto, tensorflow, webgpu, native, wasm, cpu/.test(error.message),
  );
});

test('threads must be a positive integer', async () => {
  for (const threads of [0, -1, 1.5]) {
    await assert.rejects(
      initEngine({ backend: 'cpu', threads }),
      (error: unknown) => error instanceof EngineError && error.code === 'ENGINE_INVALID_OPTION',
    );
  }
});

test('wasm and cpu report one thread; tensors made on one backend are usable after switching', async () => {
  const cpu = await initEngine({ backend: 'cpu' });
  assert.deepEqual([cpu.backend, cpu.threads, cpu.skipped], ['cpu', 1, []]);
  const onCpu = tf.tensor1d([1, 2, 3]);
  const wasm = await initEngine({ backend: 'wasm', threads: 4 });
  assert.deepEqual([wasm.backend, wasm.threads, tf.getBackend()], ['wasm', 1, 'wasm']);
  const sum = tf.add(onCpu, tf.scalar(1));
  assert.deepEqual(Array.from(await sum.data()), [2, 3, 4]);
  await initEngine({ backend: 'cpu' });
  assert.deepEqual(Array.from(await sum.data()), [2, 3, 4]);
  tf.dispose([onCpu, sum]);
});
