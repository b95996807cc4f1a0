import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  formatSpecIssue,
  parseJobSpec,
  parseSpecText,
  parseSweepSpec,
  SpecError,
  jobToSweepSpec,
} from './sweep-spec.js';

const yamlSpec = `
name: se-ratio-vs-dropout
dataset: s3://setrain/datasets/shapes/manifest.jsonl
model:
  inputSize: 75
training:
  epochs: 2
  batchSize: 8
search:
  strategy: grid
  parameters:
    seRatio: [8, 16]
    dropout: { type: values, values: [0.2, 0.5] }
objective: { metric: val_accuracy, goal: maximize }
parallelism: 2
`;

function issuesOf(input: unknown): string[] {
  try {
    parseSweepSpec(input);
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a SpecError');
}

test('a YAML sweep spec parses with defaults filled in', () => {
  const spec = parseSweepSpec(parseSpecText(yamlSpec));
  assert.equal(spec.search.strategy, 'grid');
  assert.deepEqual(spec.search.parameters.seRatio, { type: 'values', values: [8, 16] });
  assert.equal(spec.training.optimizer, 'adam');
  assert.equal(spec.training.augmentation.flip, true);
  assert.equal(spec.parallelism, 2);
  assert.equal(spec.maxFailedTrials, 3);
  assert.equal(spec.objective.goal, 'maximize');
});

test('JSON specs are accepted too', () => {
  const spec = parseSweepSpec(
    parseSpecText(
      JSON.stringify({
        dataset: 's3://bkt/d/manifest.jsonl',
        maxTrials: 3,
        search: {
          strategy: 'random',
          parameters: { learningRate: { type: 'log_uniform', min: 1e-4, max: 1e-2 } },
        },
      }),
    ),
  );
  assert.equal(spec.maxTrials, 3);
  assert.equal(spec.search.strategy, 'random');
});

test('unknown fields are named', () => {
  const issues = issuesOf({ dataset: 's3://bkt/d/manifest.jsonl', trainig: {} });
  assert.deepEqual(issues, [': unknown field "trainig"']);
  const nested = issuesOf({ dataset: 's3://bkt/d/manifest.jsonl', training: { epoch: 2 } });
  assert.deepEqual(nested, ['training: unknown field "epoch"']);
});

test('out-of-range values name the field', () => {
  const issues = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    model: { inputSize: 32 },
    training: { learningRate: -1 },
  });
  assert.equal(issues.length, 2);
  assert.match(issues[0] ?? '', /^model\.inputSize: /);
  assert.match(issues[1] ?? '', /^training\.learningRate: /);
});

test('a bad dataset URI is rejected with an example', () => {
  const issues = issuesOf({ dataset: 'http://example.com/x' });
  assert.match(issues[0] ?? '', /^dataset: must be the s3:\/\/ URI of a dataset manifest/);
});

test('search parameters are checked against the searchable list and their ranges', () => {
  const unknown = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    search: { parameters: { lr: [0.1] } },
  });
  assert.match(
    unknown[0] ?? '',
    /^search\.parameters\.lr: unknown parameter "lr"; searchable parameters are seRatio, dropout/,
  );
  const range = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    search: { parameters: { dropout: [0.5, 1.5] } },
  });
  assert.match(
    range[0] ?? '',
    /^search\.parameters\.dropout\.values\[1\]: dropout value 1\.5 is invalid/,
  );
  const kind = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    search: { strategy: 'random', parameters: { optimizer: { type: 'uniform', min: 0, max: 1 } } },
  });
  assert.match(kind[0] ?? '', /optimizer is categorical; type must be one of constant, values/);
  const grid = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    search: { parameters: { dropout: { type: 'uniform', min: 0.1, max: 0.5 } } },
  });
  assert.match(grid[0] ?? '', /grid search needs a finite set/);
  const order = issuesOf({
    dataset: 's3://bkt/d/manifest.jsonl',
    search: {
      strategy: 'random',
      parameters: { dropout: { type: 'uniform', min: 0.5, max: 0.1 } },
    },
  });
  assert.match(order[0] ?? '', /^search\.parameters\.dropout\.max: min must be below max/);
});

test('malformed text and non-object specs give one clear issue', () => {
  assert.throws(() => parseSpecText('dataset: [unclosed'), /not valid YAML/);
  assert.throws(() => parseSpecText('{"dataset": '), /not valid JSON/);
  assert.throws(() => parseSweepSpec('just a string'), /a spec must be an object/);
});

test('an issue is one line, and a SpecError joins its issues the same way', () => {
  const issues = [
    { path: 'training.epochs', message: 'must be at least 1' },
    { path: '', message: 'a spec must be an object' },
  ];
  assert.deepEqual(issues.map(formatSpecIssue), [
    'training.epochs: must be at least 1',
    'a spec must be an object',
  ]);
  assert.equal(
    new SpecError(issues).message,
    'training.epochs: must be at least 1; a spec must be an object',
  );
});

test('a job is a one-trial sweep', () => {
  const job = parseJobSpec({ dataset: 's3://bkt/d/manifest.jsonl', training: { epochs: 1 } });
  const sweep = jobToSweepSpec(job);
  assert.equal(sweep.maxTrials, 1);
  assert.deepEqual(sweep.search.parameters, {});
  assert.throws(
    () => parseJobSpec({ dataset: 's3://bkt/d/manifest.jsonl', search: {} }),
    /unknown field "search"/,
  );
});

test('trial params fold into model and training sections', async () => {
  const { resolveTrialConfig } = await import('./resolve-trial.js');
  const spec = parseSweepSpec(parseSpecText(yamlSpec));
  const resolved = resolveTrialConfig(spec, { seRatio: 16, dropout: 0.5, learningRate: 0.01 });
  assert.equal(resolved.model.seRatio, 16);
  assert.equal(resolved.model.dropout, 0.5);
  assert.equal(resolved.model.inputSize, 75);
  assert.equal(resolved.training.learningRate, 0.01);
  assert.equal(resolved.training.seed, spec.training.seed);
  assert.throws(() => resolveTrialConfig(spec, { dropout: 2 }));
});
