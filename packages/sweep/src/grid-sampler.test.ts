import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SweepError } from './errors.js';
import { createSampler, gridSize, plannedTrialCount } from './sampler.js';
import type { SearchSpace } from './types.js';

const search: SearchSpace = {
  strategy: 'grid',
  parameters: {
    seRatio: { type: 'values', values: [8, 16] },
    optimizer: { type: 'constant', value: 'sgd' },
    batchSize: { type: 'int_uniform', min: 8, max: 20, step: 4 },
  },
};

function runAll(space: SearchSpace) {
  const sampler = createSampler(space, { seed: 1, goal: 'minimize' });
  const out = [];
  for (let n = 1; ; n++) {
    const params = sampler.suggest({ trialNumber: n, history: [] });
    if (!params) break;
    out.push(params);
  }
  return out;
}

test('grid enumerates the Cartesian product, last parameter fastest, int_uniform by step', () => {
  assert.equal(gridSize(search), 2 * 1 * 4);
  const points = runAll(search);
  assert.deepEqual(
    points.map((p) => `${p.seRatio}/${p.optimizer}/${p.batchSize}`),
    [
      '8/sgd/8',
      '8/sgd/12',
      '8/sgd/16',
      '8/sgd/20',
      '16/sgd/8',
      '16/sgd/12',
      '16/sgd/16',
      '16/sgd/20',
    ],
  );
  // Keys come back in spec order.
  assert.deepEqual(Object.keys(points[0] ?? {}), ['seRatio', 'optimizer', 'batchSize']);
});

test('grid trial n is a pure function of n: any order of calls gives the same point', () => {
  const sampler = createSampler(search, { seed: 99, goal: 'maximize' });
  assert.deepEqual(sampler.suggest({ trialNumber: 6, history: [] }), {
    seRatio: 16,
    optimizer: 'sgd',
    batchSize: 12,
  });
  assert.equal(sampler.suggest({ trialNumber: 9, history: [] }), undefined);
});

test('int_uniform whose step does not divide the range stops below max', () => {
  assert.equal(
    gridSize({ parameters: { seRatio: { type: 'int_uniform', min: 4, max: 11, step: 3 } } }),
    3,
  );
});

test('an empty grid is one trial of the base config', () => {
  const empty: SearchSpace = { strategy: 'grid', parameters: {} };
  assert.equal(gridSize(empty), 1);
  assert.deepEqual(runAll(empty), [{}]);
});

test('plannedTrialCount caps grids at their size and defaults others to 10', () => {
  assert.equal(plannedTrialCount({ search }), 8);
  assert.equal(plannedTrialCount({ search, maxTrials: 3 }), 3);
  assert.equal(plannedTrialCount({ search, maxTrials: 50 }), 8);
  assert.equal(plannedTrialCount({ search: { strategy: 'random', parameters: {} } }), 10);
  assert.equal(
    plannedTrialCount({ search: { strategy: 'random', parameters: {} }, maxTrials: 4 }),
    4,
  );
});

test('grid over a continuous distribution is a SweepError naming the parameter', () => {
  assert.throws(
    () =>
      createSampler(
        { strategy: 'grid', parameters: { dropout: { type: 'uniform', min: 0, max: 0.5 } } },
        { seed: 0, goal: 'minimize' },
      ),
    (err: unknown) =>
      err instanceof SweepError && err.code === 'GRID_NOT_FINITE' && /dropout/.test(err.message),
  );
});

test('trial numbers are 1-based', () => {
  const sampler = createSampler(search, { seed: 0, goal: 'minimize' });
  assert.throws(() => sampler.suggest({ trialNumber: 0, history: [] }), SweepError);
});
