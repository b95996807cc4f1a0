import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ParamSet } from '@setrain/protocol';

import { MotpeSampler } from './motpe-sampler.js';
import { dominates, hypervolume2d, nondominatedRanks } from './pareto.js';
import { createSampler } from './sampler.js';
import type { Observation, SearchSpace } from './types.js';

test('dominance, non-dominated ranks and 2-D hypervolume by hand', () => {
  const goals = ['minimize', 'minimize'] as const;
  assert.equal(dominates([1, 1], [2, 2], goals), true);
  assert.equal(dominates([1, 2], [2, 1], goals), false);
  assert.equal(dominates([1, 1], [1, 1], goals), false);
  assert.equal(dominates([3, 1], [2, 1], ['maximize', 'minimize']), true);
  // Front {[1,3], [2,2], [3,1]}, then {[3,3]}, then {[4,4]}.
  assert.deepEqual(
    nondominatedRanks(
      [
        [1, 3],
        [3, 3],
        [2, 2],
        [4, 4],
        [3, 1],
      ],
      goals,
    ),
    [0, 1, 0, 2, 0],
  );
  // Staircase against (4, 4): 3x1 + 2x1 + 1x1 = 6; a dominated or outside point adds nothing.
  assert.equal(
    hypervolume2d(
      [
        [1, 3],
        [2, 2],
        [3, 1],
        [3, 3],
        [5, 0],
      ],
      [4, 4],
      goals,
    ),
    6,
  );
  // Maximising the first objective: flip it (points 3, 2, 1 against reference 0).
  assert.equal(
    hypervolume2d(
      [
        [3, 3],
        [2, 2],
        [1, 1],
      ],
      [0, 4],
      ['maximize', 'minimize'],
    ),
    6,
  );
});

/** ZDT1 (Zitzler, Deb & Thiele 2000) on 4 variables: a convex front f2 = 1 - sqrt(f1) at g = 1. */
function zdt1(p: ParamSet): [number, number] {
  const x = [p['x1'], p['x2'], p['x3'], p['x4']].map(Number);
  const f1 = x[0] ?? 0;
  const g = 1 + (9 * x.slice(1).reduce((a, b) => a + b, 0)) / 3;
  return [f1, g * (1 - Math.sqrt(f1 / g))];
}

const SPACE: SearchSpace['parameters'] = Object.fromEntries(
  ['x1', 'x2', 'x3', 'x4'].map((n) => [n, { type: 'uniform', min: 0, max: 1 }]),
);
const REFERENCE: [number, number] = [1.1, 11];

function run(sample: (n: number, history: Observation[]) => ParamSet, trials: number): number {
  const history: Observation[] = [];
  for (let n = 1; n <= trials; n++) {
    const params = sample(n, history);
    const values = zdt1(params);
    history.push({ trialNumber: n, params, value: null, values, status: 'completed' });
  }
  return hypervolume2d(
    history.map((o) => o.values ?? []),
    REFERENCE,
    ['minimize', 'minimize'],
  );
}

test('MOTPE beats random search on ZDT1 hypervolume over seeds', () => {
  const seeds = 20;
  const trials = 60;
  let wins = 0;
  const gaps: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const random = createSampler(
      { strategy: 'random', parameters: SPACE },
      { seed, goal: 'minimize' },
    );
    const motpe = new MotpeSampler({ parameters: SPACE }, seed, ['minimize', 'minimize']);
    const hvRandom = run((n) => random.suggest({ trialNumber: n, history: [] }) ?? {}, trials);
    const hvMotpe = run((n, history) => motpe.suggest({ trialNumber: n, history }), trials);
    if (hvMotpe > hvRandom) wins += 1;
    gaps.push(hvMotpe - hvRandom);
  }
  gaps.sort((a, b) => a - b);
  console.log(
    `motpe vs random, ZDT1 (4 variables), ${trials} trials x ${seeds} seeds, reference (1.1, 11): motpe's hypervolume larger in ${wins}/${seeds}; median difference ${gaps[seeds / 2]?.toFixed(3)}`,
  );
  assert.ok(wins >= seeds * 0.75, `wins ${wins}/${seeds}`);
});

test('MOTPE ranks finished trials by Pareto front; unfinished ones keep no value', () => {
  const motpe = new MotpeSampler({ parameters: SPACE }, 1, ['minimize', 'maximize']);
  const obs = (n: number, values?: number[]): Observation => ({
    trialNumber: n,
    params: {},
    value: null,
    status: values ? 'completed' : 'running',
    ...(values ? { values } : {}),
  });
  const ranked = motpe.ranked([obs(1, [1, 1]), obs(2, [2, 2]), obs(3, [2, 0]), obs(4)]);
  assert.deepEqual(
    ranked.map((o) => o.value),
    [0, 0, 1, null],
  );
  assert.throws(
    () => new MotpeSampler({ parameters: SPACE }, 1, ['minimize']),
    /2 or more objectives/,
  );
});

test('createSampler: strategy tpe with two or more goals is MOTPE; one goal stays TPE', () => {
  const search: SearchSpace = { strategy: 'tpe', parameters: SPACE };
  const goals = ['minimize', 'maximize'] as const;
  assert.ok(createSampler(search, { seed: 1, goal: 'minimize', goals }) instanceof MotpeSampler);
  assert.ok(
    !(
      createSampler(search, { seed: 1, goal: 'minimize', goals: ['minimize'] }) instanceof
      MotpeSampler
    ),
  );
  // Random ignores objectives: the same points with or without goals.
  const random = { ...search, strategy: 'random' } as const;
  const a = createSampler(random, { seed: 3, goal: 'minimize', goals });
  const b = createSampler(random, { seed: 3, goal: 'minimize' });
  assert.deepEqual(
    a.suggest({ trialNumber: 2, history: [] }),
    b.suggest({ trialNumber: 2, history: [] }),
  );
});
