import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSampler } from './sampler.js';
import type { SearchSpace } from './types.js';

const search: SearchSpace = {
  strategy: 'random',
  parameters: {
    learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1 },
    dropout: { type: 'uniform', min: 0, max: 0.6, q: 0.05 },
    seRatio: { type: 'int_uniform', min: 4, max: 32, step: 4 },
    optimizer: { type: 'values', values: ['adam', 'sgd', 'rmsprop'], probabilities: [2, 1, 1] },
    momentum: { type: 'normal', mean: 0.9, std: 0.2 },
    epochs: { type: 'constant', value: 3 },
  },
};

test('random trial n depends only on (seed, n): same answer in any order, from any instance', () => {
  const a = createSampler(search, { seed: 7, goal: 'minimize' });
  const b = createSampler(search, { seed: 7, goal: 'maximize' });
  const forward = [1, 2, 3, 4, 5].map((n) => a.suggest({ trialNumber: n, history: [] }));
  const backward = [5, 4, 3, 2, 1].map((n) => b.suggest({ trialNumber: n, history: [] })).reverse();
  assert.deepEqual(forward, backward);
  assert.notDeepEqual(forward[0], forward[1]);
  const other = createSampler(search, { seed: 8, goal: 'minimize' });
  assert.notDeepEqual(other.suggest({ trialNumber: 1, history: [] }), forward[0]);
});

test('a parameter keeps its values when others are added or reordered', () => {
  const a = createSampler(
    { strategy: 'random', parameters: { learningRate: search.parameters.learningRate! } },
    { seed: 3, goal: 'minimize' },
  );
  const b = createSampler(
    {
      strategy: 'random',
      parameters: {
        dropout: search.parameters.dropout!,
        learningRate: search.parameters.learningRate!,
      },
    },
    { seed: 3, goal: 'minimize' },
  );
  for (let n = 1; n <= 5; n++) {
    assert.equal(
      a.suggest({ trialNumber: n, history: [] })?.learningRate,
      b.suggest({ trialNumber: n, history: [] })?.learningRate,
    );
  }
});

test('random samples respect every distribution and parameter range', () => {
  const sampler = createSampler(search, { seed: 11, goal: 'minimize' });
  const counts: Record<string, number> = { adam: 0, sgd: 0, rmsprop: 0 };
  const logLr: number[] = [];
  const N = 2000;
  for (let n = 1; n <= N; n++) {
    const p = sampler.suggest({ trialNumber: n, history: [] });
    assert.ok(p);
    const lr = p.learningRate as number;
    assert.ok(lr >= 1e-5 && lr <= 1e-1, `lr ${lr}`);
    logLr.push(Math.log10(lr));
    const dropout = p.dropout as number;
    assert.ok(dropout >= 0 && dropout <= 0.6);
    assert.equal(Math.abs(dropout / 0.05 - Math.round(dropout / 0.05)) < 1e-9, true, `${dropout}`);
    assert.ok([4, 8, 12, 16, 20, 24, 28, 32].includes(p.seRatio as number));
    const momentum = p.momentum as number;
    assert.ok(momentum >= 0 && momentum < 1, `momentum ${momentum} clipped into [0, 1)`);
    assert.equal(p.epochs, 3);
    counts[p.optimizer as string]! += 1;
  }
  // log-uniform: log10(lr) is uniform on [-5, -1], mean -3.
  const mean = logLr.reduce((a, b) => a + b, 0) / N;
  assert.ok(Math.abs(mean + 3) < 0.1, `mean log10 lr ${mean}`);
  // probabilities 2:1:1 -> adam about half.
  assert.ok(Math.abs((counts.adam ?? 0) / N - 0.5) < 0.04, JSON.stringify(counts));
});
