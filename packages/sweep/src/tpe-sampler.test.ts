import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ParamSet } from '@setrain/protocol';

import { createSampler } from './sampler.js';
import type { Observation, SearchSpace } from './types.js';

/** Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887 at three points. */
function branin(p: ParamSet): number {
  const x1 = p.x1 as number;
  const x2 = p.x2 as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

/** A bowl whose learning-rate axis is only well resolved on a log scale; minimum 0. */
function logQuadratic(p: ParamSet): number {
  const lr = p.learningRate as number;
  const dropout = p.dropout as number;
  const optimizerPenalty = p.optimizer === 'sgd' ? 0 : 0.5;
  return (Math.log10(lr) + 3.5) ** 2 + 4 * (dropout - 0.3) ** 2 + optimizerPenalty;
}

const BRANIN: SearchSpace = {
  strategy: 'tpe',
  parameters: {
    x1: { type: 'uniform', min: -5, max: 10 },
    x2: { type: 'uniform', min: 0, max: 15 },
  },
};
const LOG_QUADRATIC: SearchSpace = {
  strategy: 'tpe',
  parameters: {
    learningRate: { type: 'log_uniform', min: 1e-6, max: 1 },
    dropout: { type: 'uniform', min: 0, max: 0.9 },
    optimizer: { type: 'values', values: ['adam', 'sgd', 'rmsprop'] },
  },
};

/** Runs `budget` sequential trials and returns the best value found. */
function bestOf(
  search: SearchSpace,
  objective: (p: ParamSet) => number,
  seed: number,
  budget: number,
  goal: 'minimize' | 'maximize' = 'minimize',
): number {
  const sampler = createSampler(search, { seed, goal });
  const history: Observation[] = [];
  for (let n = 1; n <= budget; n++) {
    const params = sampler.suggest({ trialNumber: n, history });
    assert.ok(params);
    const value = objective(params);
    history.push({
      trialNumber: n,
      params,
      value,
      status: 'completed',
    });
  }
  const values = history.map((o) => o.value ?? NaN);
  return goal === 'minimize' ? Math.min(...values) : Math.max(...values);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

/** Best-of-budget of TPE vs random with the same seeds and budget; TPE must win most seeds. */
function compare(
  label: string,
  search: SearchSpace,
  objective: (p: ParamSet) => number,
  budget: number,
  goal: 'minimize' | 'maximize' = 'minimize',
) {
  const tpe: number[] = [];
  const random: number[] = [];
  let wins = 0;
  for (let seed = 0; seed < 20; seed++) {
    const t = bestOf(search, objective, seed, budget, goal);
    const r = bestOf({ ...search, strategy: 'random' }, objective, seed, budget, goal);
    tpe.push(t);
    random.push(r);
    if (goal === 'minimize' ? t < r : t > r) wins++;
  }
  console.log(
    `${label}, ${budget} trials x 20 seeds: TPE wins ${wins}/20; median best TPE ${median(tpe).toFixed(4)}, random ${median(random).toFixed(4)}`,
  );
  return { wins, tpe: median(tpe), random: median(random) };
}

test('TPE beats random search on Branin with the same budget in most of 20 seeds', () => {
  // 10 random startup trials, then 90 TPE trials. Measured: 20/20 wins, median 0.408 vs 0.680
  // (optimum 0.398). At 40 trials its edge is smaller (13/20, 0.610 vs 0.913).
  const result = compare('branin', BRANIN, branin, 100);
  assert.ok(result.wins >= 15, `wins ${result.wins}/20`);
  assert.ok(result.tpe < result.random);
});

test('TPE beats random search on a log-scale quadratic with a categorical, goal maximize', () => {
  // Maximising -f exercises the goal handling: TPE must rank higher values as better.
  // Measured: 14/20 wins, median best -0.0749 vs -0.2445. The losses are seeds where TPE settles
  // on a wrong optimizer early (categorical TPE exploits hard); the criterion is a majority.
  const result = compare(
    'log-quadratic (maximize -f)',
    LOG_QUADRATIC,
    (p) => -logQuadratic(p),
    40,
    'maximize',
  );
  assert.ok(result.wins > 10, `wins ${result.wins}/20`);
  assert.ok(result.tpe > result.random);
});

test('startup trials equal random search; later trials depend only on earlier history', () => {
  const tpe = createSampler(BRANIN, { seed: 4, goal: 'minimize' });
  const random = createSampler({ ...BRANIN, strategy: 'random' }, { seed: 4, goal: 'minimize' });
  const history: Observation[] = [];
  for (let n = 1; n <= 12; n++) {
    const params = tpe.suggest({ trialNumber: n, history });
    assert.ok(params);
    if (n <= 10) assert.deepEqual(params, random.suggest({ trialNumber: n, history: [] }));
    history.push({ trialNumber: n, params, value: branin(params), status: 'completed' });
  }
  // Trial 11 again, with later trials in the history: same answer (they are ignored).
  const again = tpe.suggest({ trialNumber: 11, history });
  assert.deepEqual(again, history[10]?.params);
  assert.notDeepEqual(history[10]?.params, random.suggest({ trialNumber: 11, history: [] }));
});

test('with too little finished history TPE falls back to random sampling', () => {
  const tpe = createSampler(
    { ...BRANIN, tpe: { startupTrials: 0 } },
    { seed: 1, goal: 'minimize' },
  );
  const random = createSampler({ ...BRANIN, strategy: 'random' }, { seed: 1, goal: 'minimize' });
  const running: Observation = {
    trialNumber: 1,
    params: { x1: 0, x2: 0 },
    value: null,
    status: 'running',
  };
  assert.deepEqual(
    tpe.suggest({ trialNumber: 2, history: [running] }),
    random.suggest({ trialNumber: 2, history: [] }),
  );
});

test('constant liar: running trials count as the worst value and push suggestions away', () => {
  const space: SearchSpace = {
    strategy: 'tpe',
    parameters: { x: { type: 'uniform', min: 0, max: 1 } },
    tpe: { startupTrials: 0 },
  };
  const finished: Observation[] = Array.from({ length: 12 }, (_, i) => {
    const x = (i + 0.5) / 12;
    return { trialNumber: i + 1, params: { x }, value: (x - 0.5) ** 2, status: 'completed' };
  });
  const pendingNearOptimum: Observation[] = [13, 14, 15, 16].map((n, i) => ({
    trialNumber: n,
    params: { x: 0.47 + 0.02 * i },
    value: null,
    status: 'running',
  }));
  const distance = (liar: boolean) => {
    const sampler = createSampler(
      { ...space, tpe: { startupTrials: 0, constantLiar: liar } },
      { seed: 3, goal: 'minimize' },
    );
    let total = 0;
    for (let n = 17; n < 37; n++) {
      const x = sampler.suggest({ trialNumber: n, history: [...finished, ...pendingNearOptimum] })
        ?.x as number;
      total += Math.abs(x - 0.5);
    }
    return total / 20;
  };
  const withLiar = distance(true);
  const without = distance(false);
  assert.ok(withLiar > without, `mean |x - 0.5| with liar ${withLiar}, without ${without}`);
});

test('TPE keeps int_uniform, quantised and categorical suggestions valid', () => {
  const space: SearchSpace = {
    strategy: 'tpe',
    parameters: {
      seRatio: { type: 'int_uniform', min: 4, max: 32, step: 4 },
      dropout: { type: 'uniform', min: 0, max: 0.5, q: 0.1 },
      learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1, q: 1e-5 },
      momentum: { type: 'normal', mean: 0.9, std: 0.1 },
      optimizer: { type: 'values', values: ['adam', 'sgd', 'rmsprop'], probabilities: [1, 1, 0] },
    },
    tpe: { startupTrials: 3 },
  };
  const sampler = createSampler(space, { seed: 9, goal: 'minimize' });
  const history: Observation[] = [];
  for (let n = 1; n <= 25; n++) {
    const p = sampler.suggest({ trialNumber: n, history });
    assert.ok(p);
    assert.ok([4, 8, 12, 16, 20, 24, 28, 32].includes(p.seRatio as number), `seRatio ${p.seRatio}`);
    assert.ok([0, 0.1, 0.2, 0.3, 0.4, 0.5].includes(p.dropout as number), `dropout ${p.dropout}`);
    const lr = p.learningRate as number;
    assert.ok(lr >= 1e-5 && lr <= 1e-1, `lr ${lr}`);
    const m = p.momentum as number;
    assert.ok(m >= 0 && m < 1, `momentum ${m}`);
    assert.notEqual(p.optimizer, 'rmsprop');
    const value = (p.seRatio as number) / 32 + (p.dropout as number) + Math.abs(Math.log10(lr) + 3);
    history.push({
      trialNumber: n,
      params: p,
      value,
      status: n % 7 === 0 ? 'failed' : 'completed',
    });
  }
});
