import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ExpectedEngineMissingError,
  engineSkipReason,
  parseExpectedEngines,
} from './expected-engines.js';

test('parses a comma-separated engine list and names unknown engines with the allowed ones', () => {
  assert.deepEqual([...parseExpectedEngines(' native, webgpu ,')], ['native', 'webgpu']);
  assert.deepEqual([...parseExpectedEngines(undefined)], []);
  assert.throws(
    () => parseExpectedEngines('native,cuda'),
    /unknown engine "cuda"; allowed: native/,
  );
});

test('an unavailable engine skips unless the run expects it, then it fails', () => {
  const none = parseExpectedEngines('');
  const ci = parseExpectedEngines('native,wasm,webgpu');
  assert.equal(engineSkipReason('webgpu', undefined, ci), undefined);
  assert.equal(
    engineSkipReason('tensorflow', 'no libtensorflow', ci),
    'tensorflow unavailable here: no libtensorflow',
  );
  assert.equal(
    engineSkipReason('webgpu', 'no adapter', none),
    'webgpu unavailable here: no adapter',
  );
  assert.throws(() => engineSkipReason('webgpu', 'no adapter', ci), ExpectedEngineMissingError);
  assert.throws(
    () => engineSkipReason('native', 'addon not built', ci),
    /engine native is expected to load in this run .*addon not built/,
  );
});
