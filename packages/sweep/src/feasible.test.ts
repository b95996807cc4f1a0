import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ParamSet } from '@setrain/protocol';

import { SweepError } from './errors.js';
import { createSampler, gridSize, plannedTrialCount } from './sampler.js';
import type { Observation, SearchSpace } from './types.js';

// momentum exists only for sgd/rmsprop; big batches need small inputs.
const PARAMETERS: SearchSpace['parameters'] = {
  optimizer: { type: 'values', values: ['adam', 'sgd', 'rmsprop'] },
  momentum: { type: 'values', values: [0.5, 0.9], when: "optimizer in ['sgd', 'rmsprop']" },
  batchSize: { type: 'values', values: [16, 32, 64] },
  inputSize: { type: 'int_uniform', min: 96, max: 192, step: 32 },
};
const CONSTRAINTS = ['batchSize * inputSize <= 4096'];

function meetsRules(params: ParamSet): boolean {
  const hasMomentum = params['optimizer'] === 'sgd' || params['optimizer'] === 'rmsprop';
  return (
    Object.hasOwn(params, 'momentum') === hasMomentum &&
    Number(params['batchSize']) * Number(params['inputSize']) <= 4096
  );
}

function suggestMany(strategy: SearchSpace['strategy'], n: number, seed = 7): ParamSet[] {
  const search: SearchSpace = {
    strategy,
    parameters: PARAMETERS,
    constraints: CONSTRAINTS,
    ...(strategy === 'tpe' ? { tpe: { startupTrials: 5 } } : {}),
  };
  const sampler = createSampler(search, { seed, goal: 'minimize' });
  const history: Observation[] = [];
  const out: ParamSet[] = [];
  for (let trialNumber = 1; trialNumber <= n; trialNumber++) {
    const params = sampler.suggest({ trialNumber, history });
    if (params === undefined) break;
    out.push(params);
    // A made-up objective so TPE has something to model.
    const value = Number(params['inputSize']) / 100 + (params['optimizer'] === 'sgd' ? 0 : 1);
    history.push({ trialNumber, params, value, status: 'completed' });
  }
  return out;
}

test('grid enumerates each distinct feasible point once, inactive parameters left out', () => {
  const points = suggestMany('grid', 1000);
  // Feasible (batchSize, inputSize): 16 x {96..192: 4} + 32 x {96, 128} = 6;
  // optimizer: adam (no momentum) + sgd, rmsprop x 2 momenta = 5 variants: 30 points.
  assert.equal(points.length, 30);
  assert.equal(new Set(points.map((p) => JSON.stringify(p))).size, 30);
  assert.ok(points.every(meetsRules));
  assert.equal(gridSize({ parameters: PARAMETERS, constraints: CONSTRAINTS }), 30);
  assert.equal(
    plannedTrialCount({
      search: { strategy: 'grid', parameters: PARAMETERS, constraints: CONSTRAINTS },
    }),
    30,
  );
  assert.deepEqual(points[0], { optimizer: 'adam', batchSize: 16, inputSize: 96 });
});

for (const strategy of ['random', 'sobol', 'tpe'] as const) {
  test(`${strategy} suggests only feasible points and honours when:`, () => {
    for (const seed of [1, 2, 3]) {
      const points = suggestMany(strategy, 40, seed);
      assert.equal(points.length, 40);
      const bad = points.filter((p) => !meetsRules(p));
      assert.deepEqual(bad, [], `seed ${seed}`);
      // Both branches of the condition occur.
      assert.ok(points.some((p) => p['optimizer'] === 'adam'));
      assert.ok(points.some((p) => Object.hasOwn(p, 'momentum')));
    }
  });
}

test('a space without rules samples what it did before rules existed', () => {
  const search: SearchSpace = {
    strategy: 'random',
    parameters: { dropout: { type: 'uniform', min: 0, max: 0.5 } },
  };
  const a = createSampler(search, { seed: 3, goal: 'minimize' });
  const b = createSampler(
    { ...search, constraints: ['dropout >= 0'] },
    { seed: 3, goal: 'minimize' },
  );
  for (let trialNumber = 1; trialNumber <= 5; trialNumber++) {
    assert.deepEqual(
      a.suggest({ trialNumber, history: [] }),
      b.suggest({ trialNumber, history: [] }),
    );
  }
});

test('a space whose constraints never hold is a SweepError INFEASIBLE, not a hang', () => {
  for (const strategy of ['random', 'sobol', 'tpe'] as const) {
    const sampler = createSampler(
      {
        strategy,
        parameters: { dropout: { type: 'uniform', min: 0, max: 0.5 } },
        constraints: ['dropout > 0.6'],
      },
      { seed: 1, goal: 'minimize' },
    );
    assert.throws(
      () => sampler.suggest({ trialNumber: 1, history: [] }),
      (e: unknown) =>
        e instanceof SweepError && e.code === 'INFEASIBLE' && /loosen/.test(e.message),
      strategy,
    );
  }
  assert.equal(
    gridSize({
      parameters: { batchSize: { type: 'values', values: [64, 128] } },
      constraints: ['batchSize < 32'],
    }),
    0,
  );
});

test('bad rules handed to a sampler directly are SweepErrors', () => {
  assert.throws(
    () =>
      createSampler(
        {
          strategy: 'random',
          parameters: { dropout: { type: 'values', values: [0.1] } },
          constraints: ['lr > 1'],
        },
        { seed: 1, goal: 'minimize' },
      ),
    (e: unknown) =>
      e instanceof SweepError && /search\.constraints\.0: "lr" is not a parameter/.test(e.message),
  );
});
