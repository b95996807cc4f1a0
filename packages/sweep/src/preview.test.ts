import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSweepSpec } from '@setrain/protocol';

import { preview } from './preview.js';
import { createSampler } from './sampler.js';
import type { SearchSpace } from './types.js';

const base = {
  dataset: 's3://setrain/datasets/shapes/manifest.jsonl',
  training: { epochs: 2, seed: 7 },
  objective: { metric: 'val_accuracy', goal: 'maximize' },
} as const;

test('preview of a protocol grid spec lists its points in order, capped at maxTrials', () => {
  const spec = parseSweepSpec({
    ...base,
    maxTrials: 3,
    search: { strategy: 'grid', parameters: { seRatio: [8, 16], dropout: [0.2, 0.5] } },
  });
  const entries = preview(spec, 10);
  assert.deepEqual(
    entries.map((e) => [e.trialNumber, e.params.seRatio, e.params.dropout, e.dependsOnResults]),
    [
      [1, 8, 0.2, false],
      [2, 8, 0.5, false],
      [3, 16, 0.2, false],
    ],
  );
});

test('preview of a random spec equals what the sampler gives the controller (seed = training.seed)', () => {
  const spec = parseSweepSpec({
    ...base,
    search: {
      strategy: 'random',
      parameters: { learningRate: { type: 'log_uniform', min: 1e-4, max: 1e-2 } },
    },
  });
  const entries = preview(spec, 4);
  assert.equal(entries.length, 4);
  const sampler = createSampler(spec.search, { seed: 7, goal: 'maximize' });
  entries.forEach((e) => {
    assert.deepEqual(e.params, sampler.suggest({ trialNumber: e.trialNumber, history: [] }));
  });
  // maxTrials defaults to 10.
  assert.equal(preview(spec, 50).length, 10);
  assert.equal(preview(spec, 0).length, 0);
});

test('TPE previews flag the entries after startup as result-dependent', () => {
  const search: SearchSpace = {
    strategy: 'tpe',
    parameters: { dropout: { type: 'uniform', min: 0, max: 0.5 } },
    tpe: { startupTrials: 2 },
  };
  const entries = preview(
    { search, maxTrials: 4, training: { seed: 1 }, objective: { goal: 'minimize' } },
    4,
  );
  assert.deepEqual(
    entries.map((e) => e.dependsOnResults),
    [false, false, true, true],
  );
});
