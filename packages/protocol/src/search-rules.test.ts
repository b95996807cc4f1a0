import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SearchRules } from './search-rules.js';
import { parseSweepSpec, SpecError } from './sweep-spec.js';

const DATASET = 's3://data/datasets/shapes/manifest.jsonl';

test('apply leaves out parameters whose condition fails, in dependency order', () => {
  const rules = new SearchRules({
    parameters: {
      // Declared before what it reads: the order of evaluation follows the dependencies.
      momentum: { type: 'uniform', min: 0, max: 0.99, when: "optimizer in ['sgd', 'rmsprop']" },
      dropout: { type: 'uniform', min: 0, max: 0.5, when: 'momentum > 0.5' },
      optimizer: { type: 'values', values: ['adam', 'sgd', 'rmsprop'] },
    },
  });
  assert.deepEqual(rules.problems, []);
  assert.equal(rules.active, true);
  assert.deepEqual(rules.apply({ momentum: 0.9, dropout: 0.2, optimizer: 'sgd' }), {
    momentum: 0.9,
    dropout: 0.2,
    optimizer: 'sgd',
  });
  // momentum is inactive under adam, so dropout (which reads it) is too.
  assert.deepEqual(rules.apply({ momentum: 0.9, dropout: 0.2, optimizer: 'adam' }), {
    optimizer: 'adam',
  });
});

test('apply rejects points that break a constraint', () => {
  const rules = new SearchRules({
    parameters: {
      batchSize: { type: 'values', values: [16, 64] },
      inputSize: { type: 'values', values: [128, 256] },
    },
    constraints: ['batchSize * inputSize <= 8192'],
  });
  assert.deepEqual(rules.apply({ batchSize: 16, inputSize: 256 }), {
    batchSize: 16,
    inputSize: 256,
  });
  assert.equal(rules.apply({ batchSize: 64, inputSize: 256 }), undefined);
});

test('a spec names the field of each bad condition or constraint', () => {
  const spec = {
    dataset: DATASET,
    search: {
      strategy: 'random',
      parameters: {
        learningRate: { type: 'log_uniform', min: 1e-4, max: 1e-1, when: 'dropout > 0.1' },
        dropout: { type: 'uniform', min: 0, max: 0.5, when: 'learningRate < 0.01' },
        momentum: { type: 'uniform', min: 0, max: 0.9, when: 'momentum > 0' },
      },
      constraints: ['learningRate * 10 < 1', 'batchSize < 64', 'dropout >'],
    },
  };
  try {
    parseSweepSpec(spec);
    assert.fail('expected a SpecError');
  } catch (error) {
    assert.ok(error instanceof SpecError);
    const byPath = new Map(error.issues.map((i) => [i.path, i.message]));
    assert.match(byPath.get('search.parameters.learningRate.when') ?? '', /cycle/);
    assert.match(byPath.get('search.parameters.momentum.when') ?? '', /reads momentum itself/);
    assert.match(byPath.get('search.constraints[1]') ?? '', /"batchSize" is not a parameter/);
    assert.match(byPath.get('search.constraints[2]') ?? '', /ends too early/);
    assert.equal(byPath.has('search.constraints[0]'), false);
  }
});

test('a valid conditional spec parses and keeps its when and constraints', () => {
  const spec = parseSweepSpec({
    dataset: DATASET,
    search: {
      strategy: 'random',
      parameters: {
        optimizer: ['adam', 'sgd'],
        momentum: { type: 'uniform', min: 0, max: 0.9, when: "optimizer == 'sgd'" },
      },
      constraints: ["optimizer == 'adam' or momentum >= 0.5"],
    },
  });
  assert.equal(spec.search.parameters['momentum']?.when, "optimizer == 'sgd'");
  assert.deepEqual(spec.search.constraints, ["optimizer == 'adam' or momentum >= 0.5"]);
});

test('strategy pbt refuses conditions and constraints at their field', () => {
  try {
    parseSweepSpec({
      dataset: DATASET,
      training: { epochs: 4 },
      search: {
        strategy: 'pbt',
        pbt: { populationSize: 4, perturbationInterval: 2 },
        parameters: {
          learningRate: { type: 'log_uniform', min: 1e-4, max: 1e-1 },
          dropout: { type: 'uniform', min: 0, max: 0.5, when: 'learningRate < 0.01' },
        },
        constraints: ['learningRate < 0.05'],
      },
      maxTrials: 4,
    });
    assert.fail('expected a SpecError');
  } catch (error) {
    assert.ok(error instanceof SpecError);
    const paths = error.issues.filter((i) => /strategy pbt does not support/.test(i.message));
    assert.deepEqual(paths.map((i) => i.path).sort(), [
      'search.constraints',
      'search.parameters.dropout.when',
    ]);
  }
});
