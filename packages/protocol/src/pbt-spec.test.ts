import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSpecText, parseSweepSpec, SpecError } from './sweep-spec.js';

const pbtSpec = `
dataset: s3://setrain/datasets/shapes/manifest.jsonl
model: { inputSize: 75 }
training: { epochs: 4 }
search:
  strategy: pbt
  parameters:
    learningRate: { type: log_uniform, min: 0.0001, max: 0.1 }
    dropout: { type: uniform, min: 0, max: 0.5 }
    preprocessing: [inception, unit]
    seRatio: 16
  pbt: { populationSize: 3, perturbationInterval: 2 }
objective: { metric: val_accuracy, goal: maximize }
parallelism: 3
`;

function issuesOf(edit: (spec: Record<string, unknown>) => void): string[] {
  const input = parseSpecText(pbtSpec) as Record<string, unknown>;
  edit(input);
  try {
    parseSweepSpec(input);
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a SpecError');
}

const search = (spec: Record<string, unknown>) => spec.search as Record<string, unknown>;

test('a pbt spec parses; a constant architecture parameter is allowed', () => {
  const spec = parseSweepSpec(parseSpecText(pbtSpec));
  assert.equal(spec.search.strategy, 'pbt');
  assert.deepEqual(spec.search.pbt, { populationSize: 3, perturbationInterval: 2 });
});

test('searching an architecture or optimizer parameter under pbt is refused with the reason', () => {
  const issues = issuesOf((s) => {
    const params = search(s).parameters as Record<string, unknown>;
    params.seRatio = [8, 16];
    params.optimizer = ['adam', 'sgd'];
  });
  assert.equal(issues.length, 2);
  assert.match(
    issues[0] ?? '',
    /^search\.parameters\.seRatio: PBT cannot change seRatio while a trial trains \(it changes the model architecture\)/,
  );
  assert.match(
    issues[1] ?? '',
    /^search\.parameters\.optimizer: .*optimizer state's layout.*search only learningRate, momentum, dropout, batchSize, preprocessing/,
  );
});

test('pbt needs its section, an interval below the epochs, no maxTrials mismatch, no early stopping', () => {
  assert.deepEqual(
    issuesOf((s) => {
      delete search(s).pbt;
    }),
    [
      'search.pbt: strategy pbt needs a pbt section, e.g. pbt: { populationSize: 4, perturbationInterval: 2 }',
    ],
  );
  const issues = issuesOf((s) => {
    (search(s).pbt as Record<string, unknown>).perturbationInterval = 4;
    s.maxTrials = 5;
    s.earlyStopping = { type: 'median' };
  });
  assert.deepEqual(
    issues.map((i) => i.split(':')[0]),
    ['search.pbt.perturbationInterval', 'maxTrials', 'earlyStopping'],
  );
  assert.deepEqual(
    issuesOf((s) => {
      search(s).strategy = 'random';
    }),
    ['search.pbt: pbt options need strategy pbt; strategy is random'],
  );
  assert.match(
    issuesOf((s) => {
      (search(s).pbt as Record<string, unknown>).populationSize = 1;
    })[0] ?? '',
    /^search\.pbt\.populationSize: /,
  );
});
