import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SweepError } from './errors.js';
import { createSampler } from './sampler.js';
import { createSchedulerForSpec, maxTrialEpochs } from './scheduler.js';
import type { SearchSpace } from './types.js';

test('an unknown strategy is a SweepError listing the known ones', () => {
  assert.throws(
    () =>
      // A strategy the type does not allow, as an unchecked caller could pass.
      createSampler({ strategy: 'bayes', parameters: {} } as unknown as SearchSpace, {
        seed: 0,
        goal: 'minimize',
      }),
    (e: unknown) =>
      e instanceof SweepError &&
      e.code === 'UNKNOWN_STRATEGY' &&
      /grid, random, sobol, tpe/.test(e.message),
  );
});

test('bad TPE options are named', () => {
  assert.throws(
    () =>
      createSampler(
        { strategy: 'tpe', parameters: {}, tpe: { gamma: 1.5, candidates: 0 } },
        { seed: 0, goal: 'minimize' },
      ),
    (e: unknown) =>
      e instanceof SweepError && /candidates must be/.test(e.message) && /gamma/.test(e.message),
  );
});

test('ASHA maxEpochs defaults to the most epochs a trial can run', () => {
  const search: SearchSpace = {
    strategy: 'random',
    parameters: { epochs: { type: 'int_uniform', min: 3, max: 28, step: 5 } },
  };
  assert.equal(maxTrialEpochs({ training: { epochs: 10 }, search }), 28);
  assert.equal(maxTrialEpochs({ training: { epochs: 10 }, search: { parameters: {} } }), 10);
  const scheduler = createSchedulerForSpec({
    earlyStopping: { type: 'asha', reductionFactor: 2 },
    training: { epochs: 10 },
    search,
  });
  assert.ok('rungs' in scheduler);
  assert.deepEqual(scheduler.rungs, [1, 2, 4, 8, 16]);
  assert.equal(
    createSchedulerForSpec({ training: { epochs: 10 }, search: { parameters: {} } }).name,
    'none',
  );
});
