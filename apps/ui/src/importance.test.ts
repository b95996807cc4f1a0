import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Prng } from '@setrain/sweep';

import { permutationImportance, type ImportanceSample } from './importance.js';

/** y = 10 * lr + 2 * [optimizer = adam] + 0 * unused + small noise: the order is known. */
function synthetic(n: number, seed: number): ImportanceSample[] {
  const prng = new Prng(seed);
  return Array.from({ length: n }, () => {
    const lr = prng.next();
    const optimizer = prng.next() < 0.5 ? 'adam' : 'sgd';
    const unused = prng.next() * 100;
    const value = 10 * lr + (optimizer === 'adam' ? 2 : 0) + 0.05 * prng.next();
    return { params: { lr, optimizer, unused }, value };
  });
}

test('a synthetic objective: the parameter that matters most ranks first, the unused one last', () => {
  const ranked = permutationImportance(synthetic(200, 7));
  assert.deepEqual(
    ranked.map((r) => r.name),
    ['lr', 'optimizer', 'unused'],
  );
  assert.ok(ranked[0]!.share > 0.6, JSON.stringify(ranked));
  assert.ok(ranked[2]!.share < 0.05, JSON.stringify(ranked));
  const total = ranked.reduce((a, r) => a + r.share, 0);
  assert.ok(Math.abs(total - 1) < 1e-9);
});

test('the same samples and seed give the same answer', () => {
  const samples = synthetic(60, 3);
  assert.deepEqual(permutationImportance(samples), permutationImportance(samples));
});

test('too few samples or a constant objective give no importance', () => {
  assert.deepEqual(permutationImportance(synthetic(5, 1)), []);
  const flat = synthetic(40, 2).map((s) => ({ ...s, value: 1 }));
  assert.deepEqual(permutationImportance(flat), []);
});
