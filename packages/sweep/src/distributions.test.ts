import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fitToParam, fromUnit, quantize } from './distributions.js';
import { normalCdf, normalQuantile } from './normal-math.js';
import { deriveSeed, Prng } from './prng.js';

test('xoshiro128** matches the reference outputs for state (1, 2, 3, 4)', () => {
  const rng = Prng.fromState([1, 2, 3, 4]);
  assert.deepEqual(
    Array.from({ length: 6 }, () => rng.nextUint32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

test('the PRNG is deterministic per seed and roughly uniform', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const xs = Array.from({ length: 10_000 }, () => a.next());
  assert.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notEqual(c.next(), xs[0]);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  const buckets = new Array<number>(10).fill(0);
  for (const x of xs) buckets[Math.floor(x * 10)]! += 1;
  assert.ok(
    buckets.every((n) => n > 900 && n < 1100),
    buckets.join(','),
  );
});

test('derived seeds differ for neighbouring inputs', () => {
  const seeds = new Set<number>();
  for (let s = 0; s < 10; s++) for (let n = 1; n <= 100; n++) seeds.add(deriveSeed(s, n));
  assert.equal(seeds.size, 1000);
  assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
  assert.notEqual(deriveSeed(5), deriveSeed(5 + 2 ** 32));
});

test('normal quantile inverts the CDF', () => {
  for (const p of [1e-6, 0.01, 0.1, 0.5, 0.8, 0.975, 0.999999]) {
    assert.ok(Math.abs(normalCdf(normalQuantile(p)) - p) < 1e-6 * Math.max(1, p * 10), `${p}`);
  }
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
});

test('fromUnit maps the unit interval through each inverse CDF', () => {
  assert.equal(fromUnit({ type: 'constant', value: 'sgd' }, 0.3), 'sgd');
  assert.equal(fromUnit({ type: 'uniform', min: 2, max: 4 }, 0.25), 2.5);
  assert.equal(fromUnit({ type: 'uniform', min: 0, max: 1, q: 0.1 }, 0.33), 0.3);
  assert.ok(
    Math.abs((fromUnit({ type: 'log_uniform', min: 1e-4, max: 1 }, 0.5) as number) - 1e-2) < 1e-12,
  );
  assert.equal(fromUnit({ type: 'int_uniform', min: 1, max: 9, step: 2 }, 0), 1);
  assert.equal(fromUnit({ type: 'int_uniform', min: 1, max: 9, step: 2 }, 0.99), 9);
  assert.equal(fromUnit({ type: 'int_uniform', min: 1, max: 9, step: 2 }, 0.4), 5);
  const values = { type: 'values' as const, values: ['a', 'b', 'c'], probabilities: [0.5, 0, 0.5] };
  assert.equal(fromUnit(values, 0.49), 'a');
  assert.equal(fromUnit(values, 0.5), 'c');
  assert.equal(fromUnit(values, 0.9999999999), 'c');
  assert.equal(fromUnit({ type: 'normal', mean: 1, std: 2 }, 0.5), 1);
  assert.ok(Number.isFinite(fromUnit({ type: 'normal', mean: 1, std: 2 }, 0)));
});

test('quantize keeps multiples inside the range and drops float noise', () => {
  assert.equal(quantize(0.96, 0.1, 0.05, 0.95), 0.9);
  assert.equal(quantize(0.1 * 3, 0.1), 0.3);
  assert.equal(quantize(7, 5, 6, 9), 5); // no multiple of 5 in [6, 9]: plain rounding
});

test('fitToParam clips and rounds into the protocol ranges', () => {
  assert.equal(fitToParam('dropout', -0.2), 0);
  const high = fitToParam('dropout', 1.3) as number;
  assert.ok(high < 1 && high > 0.999);
  assert.equal(fitToParam('seRatio', 7.6), 8);
  assert.equal(fitToParam('learningRate', 50), 10);
  assert.equal(fitToParam('optimizer', 'sgd'), 'sgd');
  assert.equal(fitToParam('notAParam', 5), 5);
});
