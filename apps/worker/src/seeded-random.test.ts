import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SeededRandom } from './seeded-random.js';

test('the same seed and stream give the same numbers; other streams differ', () => {
  const a = new SeededRandom(42, 'train');
  const b = new SeededRandom(42, 'train');
  const c = new SeededRandom(42, 'split');
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.next()),
  );
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('a restored state continues the exact sequence (what resume relies on)', () => {
  const random = new SeededRandom(7, 'train');
  random.shuffle([1, 2, 3, 4, 5]);
  const restored = SeededRandom.fromState(random.state);
  assert.deepEqual(
    Array.from({ length: 8 }, () => restored.nextUint32()),
    Array.from({ length: 8 }, () => random.nextUint32()),
  );
});

test('shuffle is a permutation and int stays in range', () => {
  const random = new SeededRandom(1);
  const items = Array.from({ length: 50 }, (_, i) => i);
  assert.deepEqual(
    [...random.shuffle(items)].sort((x, y) => x - y),
    items,
  );
  for (let i = 0; i < 1000; i++) {
    const n = random.int(3);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 3);
  }
});
