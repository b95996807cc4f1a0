import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Goal } from '@setrain/protocol';

import { hypervolume, inferReferencePoint } from './hypervolume.js';
import { hypervolume2d } from './pareto.js';
import { Prng } from './prng.js';

const min = (d: number): Goal[] => Array.from({ length: d }, () => 'minimize');

/**
 * The union of the boxes [p, reference] by inclusion-exclusion over every subset (an independent
 * exact method: the intersection of boxes is the box from their componentwise maximum).
 */
function inclusionExclusion(points: number[][], reference: number[]): number {
  let total = 0;
  for (let mask = 1; mask < 1 << points.length; mask++) {
    const chosen = points.filter((_, i) => (mask & (1 << i)) !== 0);
    const corner = reference.map((_, k) => Math.max(...chosen.map((p) => p[k] ?? 0)));
    const box = reference.reduce((v, r, k) => v * Math.max(0, r - (corner[k] ?? 0)), 1);
    total += (chosen.length % 2 === 1 ? 1 : -1) * box;
  }
  return total;
}

test('2-D: the staircase area, maximised objectives flipped, outside and dominated points add nothing', () => {
  // Against (4, 4): 3x1 + 2x1 + 1x1 = 6; [3, 3] is dominated and [5, 0] lies outside.
  const points = [
    [1, 3],
    [2, 2],
    [3, 1],
    [3, 3],
    [5, 0],
  ];
  assert.equal(hypervolume(points, [4, 4], min(2)), 6);
  const maximised = hypervolume(
    [
      [0.9, 3],
      [0.8, 2],
      [0.7, 1],
    ],
    [0.5, 4],
    ['maximize', 'minimize'],
  );
  assert.ok(Math.abs(maximised - (0.4 + 0.3 + 0.2)) < 1e-12, String(maximised));
  assert.equal(hypervolume([], [4, 4], min(2)), 0);
});

test('3-D and 4-D: known volumes', () => {
  // One point: the box to the reference.
  assert.equal(hypervolume([[0, 0, 0]], [1, 2, 3], min(3)), 6);
  // The unit vectors against (2, 2, 2): the cube less the corner no point dominates, [0,1)^3.
  const units = (d: number) =>
    Array.from({ length: d }, (_, i) => Array.from({ length: d }, (__, k) => (k === i ? 1 : 0)));
  assert.equal(hypervolume(units(3), [2, 2, 2], min(3)), 8 - 1);
  assert.equal(hypervolume(units(4), [2, 2, 2, 2], min(4)), 16 - 1);
  // Two overlapping boxes: 4 + 4 - 2.
  assert.equal(
    hypervolume(
      [
        [1, 0, 0],
        [0, 1, 0],
      ],
      [2, 2, 2],
      min(3),
    ),
    6,
  );
  // All maximised: the same volumes mirrored.
  assert.equal(
    hypervolume(
      units(4).map((p) => p.map((v) => -v)),
      [-2, -2, -2, -2],
      ['maximize', 'maximize', 'maximize', 'maximize'],
    ),
    15,
  );
});

test('random fronts in 2 to 4 dimensions match inclusion-exclusion (and hypervolume2d)', () => {
  const rng = new Prng(17);
  for (let round = 0; round < 60; round++) {
    const d = 2 + (round % 3);
    const n = 1 + (round % 8);
    const points = Array.from({ length: n }, () =>
      Array.from({ length: d }, () => Math.round(rng.next() * 100) / 10),
    );
    const reference = Array.from({ length: d }, () => 10);
    const expected = inclusionExclusion(points, reference);
    const actual = hypervolume(points, reference, min(d));
    assert.ok(
      Math.abs(actual - expected) < 1e-9,
      `${JSON.stringify(points)}: ${actual} vs ${expected}`,
    );
    if (d === 2) assert.equal(actual, hypervolume2d(points, [10, 10], ['minimize', 'minimize']));
  }
});

test('the inferred reference point: 10% of the front range beyond its worst value', () => {
  const goals: Goal[] = ['maximize', 'minimize'];
  const front = [
    [0.9, 30],
    [0.7, 10],
  ];
  const reference = inferReferencePoint(front, goals);
  assert.ok(reference !== undefined);
  assert.ok(Math.abs((reference[0] ?? 0) - 0.68) < 1e-12);
  assert.ok(Math.abs((reference[1] ?? 0) - 32) < 1e-12);
  // Every front trial adds volume against it.
  assert.ok(hypervolume(front, reference, goals) > hypervolume([front[0] ?? []], reference, goals));
  // One trial: 10% of each value's magnitude; a zero value: 0.1.
  assert.deepEqual(inferReferencePoint([[0.5, 0]], goals), [0.45, 0.1]);
  assert.equal(inferReferencePoint([], goals), undefined);
});
