import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Prng } from './prng.js';

const draw = (rng: Prng, n: number) => Array.from({ length: n }, () => rng.next());

test('the same seed and stream give the same numbers; other streams and seeds differ', () => {
  const xs = draw(Prng.forStream(42, 'train'), 5);
  assert.deepEqual(xs, draw(Prng.forStream(42, 'train'), 5));
  assert.notDeepEqual(xs, draw(Prng.forStream(42, 'split'), 5));
  assert.notDeepEqual(xs, draw(Prng.forStream(43, 'train'), 5));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('a restored state continues the exact sequence (what a resumed trial relies on)', () => {
  const rng = Prng.forStream(7, 'train');
  rng.shuffle([1, 2, 3, 4, 5]);
  const saved = JSON.parse(JSON.stringify(rng.state)) as [number, number, number, number];
  const restored = Prng.fromState(saved);
  assert.deepEqual(
    Array.from({ length: 8 }, () => restored.nextUint32()),
    Array.from({ length: 8 }, () => rng.nextUint32()),
  );
});

test('shuffle is a permutation and nextInt stays in range', () => {
  const rng = new Prng(1);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle(items);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual(
    [...shuffled].sort((x, y) => x - y),
    items,
  );
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const n = rng.nextInt(3);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 3);
    seen.add(n);
  }
  assert.equal(seen.size, 3);
});
