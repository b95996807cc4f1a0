import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EngineError } from './engine-error.js';
import { BACKEND_NAMES, ENGINE_NAMES, isEngineName, parseEngineName } from './engine-names.js';
import { ENGINE_LOADERS } from './engines.js';

test('ENGINE_NAMES is auto followed by the engines in auto order', () => {
  assert.deepEqual(ENGINE_NAMES, ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu']);
  assert.deepEqual(
    ENGINE_LOADERS.map((loader) => loader.name),
    [...BACKEND_NAMES],
  );
});

test('parseEngineName accepts every engine name', () => {
  for (const name of ENGINE_NAMES) {
    assert.equal(parseEngineName(name), name);
    assert.ok(isEngineName(name));
  }
});

test('parseEngineName rejects other values and lists the allowed ones', () => {
  for (const value of ['gpu', 'WASM', '', 42, undefined]) {
    assert.equal(isEngineName(value), false);
    assert.throws(
      () => parseEngineName(value),
      (error: unknown) =>
        error instanceof EngineError &&
        error.code === 'ENGINE_UNKNOWN' &&
        error.message.includes('allowed: auto, tensorflow, webgpu, native, wasm, cpu'),
    );
  }
});
