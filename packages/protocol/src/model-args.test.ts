import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_SE_RATIO, SE_PLACEMENTS } from './model-args.js';

test('the seed SE ratio gives 186 bottleneck units on 2048 channels', () => {
  assert.equal(Math.floor(2048 / DEFAULT_SE_RATIO), 186);
  assert.deepEqual([...SE_PLACEMENTS], ['top', 'every-block']);
});
