import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Prng } from './prng.js';
import { createSampler } from './sampler.js';
import { SOBOL_MAX_DIMENSIONS, SobolSequence } from './sobol-sequence.js';
import type { SearchSpace } from './types.js';

test('unscrambled points equal the published Joe-Kuo sequence (SciPy/Optuna reference)', () => {
  const sobol = new SobolSequence(5, { scramble: false });
  const expected = [
    [0.0, 0.0, 0.0, 0.0, 0.0],
    [0.5, 0.5, 0.5, 0.5, 0.5],
    [0.75, 0.25, 0.25, 0.25, 0.75],
    [0.25, 0.75, 0.75, 0.75, 0.25],
    [0.375, 0.375, 0.625, 0.875, 0.375],
    [0.875, 0.875, 0.125, 0.375, 0.875],
    [0.625, 0.125, 0.875, 0.625, 0.625],
    [0.125, 0.625, 0.375, 0.125, 0.125],
  ];
  expected.forEach((point, i) => {
    assert.deepEqual(sobol.point(i), point, `point ${i}`);
  });
});

/** True when each of the 2^k cells of [0, 1) holds exactly one of the first 2^k coordinates. */
function stratified(values: number[], k: number): boolean {
  const cells = new Array<number>(2 ** k).fill(0);
  for (const v of values.slice(0, 2 ** k)) cells[Math.floor(v * 2 ** k)]! += 1;
  return cells.every((c) => c === 1);
}

test('every 2^k prefix stratifies each axis, scrambled or not, in all 21 dimensions', () => {
  for (const scramble of [false, true]) {
    const sobol = new SobolSequence(SOBOL_MAX_DIMENSIONS, { scramble, seed: 5 });
    const points = Array.from({ length: 1024 }, (_, i) => sobol.point(i));
    for (let d = 0; d < SOBOL_MAX_DIMENSIONS; d++) {
      for (const k of [1, 2, 4, 7, 10]) {
        assert.ok(
          stratified(
            points.map((p) => p[d] ?? NaN),
            k,
          ),
          `scramble=${scramble} dim ${d} k=${k}`,
        );
      }
    }
  }
});

/** Number of sorted values below `b` (strictly, or at most `b` when `inclusive`). */
function countBelow(sorted: number[], b: number, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid] ?? 0;
    if (v < b || (inclusive && v === b)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Exact star discrepancy of a 2-D point set: every anchored box with corners on the points. */
function starDiscrepancy2d(points: number[][]): number {
  const n = points.length;
  const xs = [...points.map((p) => p[0] ?? 0), 1];
  const ys = [...points.map((p) => p[1] ?? 0), 1];
  let worst = 0;
  for (const a of xs) {
    const open = points.filter((p) => (p[0] ?? 0) < a).map((p) => p[1] ?? 0);
    const closed = points.filter((p) => (p[0] ?? 0) <= a).map((p) => p[1] ?? 0);
    open.sort((u, v) => u - v);
    closed.sort((u, v) => u - v);
    for (const b of ys) {
      worst = Math.max(
        worst,
        a * b - countBelow(open, b, false) / n,
        countBelow(closed, b, true) / n - a * b,
      );
    }
  }
  return worst;
}

test('scrambled Sobol has a lower star discrepancy than random points (N = 256, 2-D)', () => {
  const rows: string[] = [];
  for (let seed = 0; seed < 5; seed++) {
    const sobol = new SobolSequence(2, { seed });
    const rng = new Prng(seed);
    const sobolPoints = Array.from({ length: 256 }, (_, i) => sobol.point(i));
    const randomPoints = Array.from({ length: 256 }, () => [rng.next(), rng.next()]);
    const ds = starDiscrepancy2d(sobolPoints);
    const dr = starDiscrepancy2d(randomPoints);
    rows.push(`seed ${seed}: sobol ${ds.toFixed(4)} random ${dr.toFixed(4)}`);
    assert.ok(ds < dr, rows.at(-1));
    // Sobol nets of 256 points sit far below the O(1/sqrt(N)) = 0.0625 of random points.
    assert.ok(ds < 0.03, rows.at(-1));
  }
  console.log(`star discrepancy, N=256: ${rows.join('; ')}`);
});

test('the sobol sampler is seeded, deterministic per trial and independent of spec order', () => {
  const params = {
    learningRate: { type: 'log_uniform' as const, min: 1e-4, max: 1e-1 },
    dropout: { type: 'uniform' as const, min: 0, max: 0.5 },
    optimizer: { type: 'values' as const, values: ['adam', 'sgd'] },
    epochs: { type: 'constant' as const, value: 4 },
  };
  const search: SearchSpace = { strategy: 'sobol', parameters: params };
  const reordered: SearchSpace = {
    strategy: 'sobol',
    parameters: {
      epochs: params.epochs,
      optimizer: params.optimizer,
      dropout: params.dropout,
      learningRate: params.learningRate,
    },
  };
  const a = createSampler(search, { seed: 1, goal: 'minimize' });
  const b = createSampler(reordered, { seed: 1, goal: 'minimize' });
  const c = createSampler(search, { seed: 2, goal: 'minimize' });
  const first8 = Array.from({ length: 8 }, (_, i) =>
    a.suggest({ trialNumber: i + 1, history: [] }),
  );
  assert.deepEqual(
    first8,
    Array.from({ length: 8 }, (_, i) => b.suggest({ trialNumber: i + 1, history: [] })),
  );
  assert.notDeepEqual(first8[0], c.suggest({ trialNumber: 1, history: [] }));
  // 8 points stratify each axis into 8 cells; the categorical gets 4 + 4.
  assert.equal(first8.filter((p) => p?.optimizer === 'adam').length, 4);
  const cells = new Set(first8.map((p) => Math.floor(((p?.dropout as number) / 0.5) * 8)));
  assert.equal(cells.size, 8);
  assert.ok(first8.every((p) => p?.epochs === 4));
});
