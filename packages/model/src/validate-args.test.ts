import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULT_DROPOUT,
  DEFAULT_HEAD_ACTIVATION,
  DEFAULT_INPUT_SIZE,
  DEFAULT_PREPROCESSING,
  DEFAULT_SE_PLACEMENT,
  DEFAULT_SE_RATIO,
  type SeInceptionV3Args,
} from '@setrain/protocol';

import { ModelArgsError } from './model-args-error.js';
import { DEFAULT_SEED, validateSeInceptionV3Args } from './validate-args.js';

test('validateSeInceptionV3Args fills every default', () => {
  assert.deepEqual(validateSeInceptionV3Args({ numClasses: 3 }), {
    inputSize: DEFAULT_INPUT_SIZE,
    numClasses: 3,
    seRatio: DEFAULT_SE_RATIO,
    dropout: DEFAULT_DROPOUT,
    sePlacement: DEFAULT_SE_PLACEMENT,
    headActivation: DEFAULT_HEAD_ACTIVATION,
    preprocessing: DEFAULT_PREPROCESSING,
    seed: DEFAULT_SEED,
  });
});

test('validateSeInceptionV3Args keeps valid values at the limits', () => {
  const args = {
    inputSize: 75,
    numClasses: 1,
    seRatio: 2048,
    dropout: 0,
    sePlacement: 'every-block',
    headActivation: 'softmax',
    preprocessing: 'unit',
    seed: -7,
  } as const;
  assert.deepEqual(validateSeInceptionV3Args(args), args);
  assert.equal(validateSeInceptionV3Args({ numClasses: 2, inputSize: 1024 }).inputSize, 1024);
  assert.equal(validateSeInceptionV3Args({ numClasses: 2, dropout: 0.999 }).dropout, 0.999);
});

const badArgs: [Record<string, unknown>, string, string][] = [
  [{ inputSize: 74 }, 'inputSize', 'inputSize must be an integer in 75..1024; got 74'],
  [{ inputSize: 1025 }, 'inputSize', 'inputSize must be an integer in 75..1024; got 1025'],
  [{ inputSize: 100.5 }, 'inputSize', 'inputSize must be an integer in 75..1024; got 100.5'],
  [{ numClasses: 0 }, 'numClasses', 'numClasses must be an integer in 1..100000; got 0'],
  [
    { numClasses: undefined },
    'numClasses',
    'numClasses must be an integer in 1..100000; got undefined',
  ],
  [{ numClasses: 2.5 }, 'numClasses', 'numClasses must be an integer in 1..100000; got 2.5'],
  [{ seRatio: 0 }, 'seRatio', 'seRatio must be an integer in 1..2048; got 0'],
  [{ seRatio: 2049 }, 'seRatio', 'seRatio must be an integer in 1..2048; got 2049'],
  [{ seRatio: 1.5 }, 'seRatio', 'seRatio must be an integer in 1..2048; got 1.5'],
  [{ dropout: 1 }, 'dropout', 'dropout must be a number in [0, 1); got 1'],
  [{ dropout: -0.1 }, 'dropout', 'dropout must be a number in [0, 1); got -0.1'],
  [{ dropout: Number.NaN }, 'dropout', 'dropout must be a number in [0, 1); got NaN'],
  [
    { sePlacement: 'middle' },
    'sePlacement',
    'sePlacement must be one of top, every-block; got "middle"',
  ],
  [
    { headActivation: 'relu' },
    'headActivation',
    'headActivation must be one of sigmoid, softmax; got "relu"',
  ],
  [
    { preprocessing: 'caffe' },
    'preprocessing',
    'preprocessing must be one of inception, unit; got "caffe"',
  ],
  [{ seed: 0.5 }, 'seed', /^seed must be an integer in -\d+\.\.\d+; got 0\.5$/.source],
];

for (const [override, field, message] of badArgs) {
  test(`validateSeInceptionV3Args rejects ${field} = ${String(Object.values(override)[0])}`, () => {
    const args = { numClasses: 3, ...override } as SeInceptionV3Args;
    assert.throws(
      () => validateSeInceptionV3Args(args),
      (error: unknown) => {
        assert.ok(error instanceof ModelArgsError);
        assert.equal(error.code, 'MODEL_ARGS_INVALID');
        assert.equal(error.field, field);
        if (message.startsWith('^')) assert.match(error.message, new RegExp(message));
        else assert.equal(error.message, message);
        return true;
      },
    );
  });
}
