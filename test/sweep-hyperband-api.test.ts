// Hyperband and BOHB through the API and its controller, against a real redis-server and s3rver
// with an in-test BullMQ worker: the trial payload carries the hyperband rule with maxEpochs
// resolved (the worker decides with it, as with ASHA), bad combinations are 400s at their field,
// and BOHB's model takes over once finished trials report how many epochs they trained.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type ApiApp } from '@setrain/api';

import { useApiTestFile, type ApiWorld } from './api-world.js';
import { sameAsRandomSearch } from './fixtures/random-search-points.js';

const api = useApiTestFile({
  label: 'hyperband',
  apiKey: 'test-key-hyperband-0123456789',
  appDeps: { metrics: false },
});

const DROPOUT = { dropout: { type: 'uniform', min: 0.05, max: 0.6 } };

function bohbSpec(w: ApiWorld, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataset: w.dataset,
    training: { epochs: 9, seed: 3 },
    search: {
      strategy: 'bohb',
      parameters: DROPOUT,
      bohb: { randomFraction: 0, minPointsInModel: 3 },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    earlyStopping: { type: 'hyperband', reductionFactor: 3 },
    maxTrials: 8,
    parallelism: 1,
    ...extra,
  };
}

function post(app: ApiApp, url: string, payload: object) {
  return api.request(app, 'POST', url, payload);
}

function firstIssue(body: string): { path: string; message: string } | undefined {
  return api.errorOf(body).issues?.[0];
}

test('bohb needs earlyStopping hyperband; too many brackets is a 400 at earlyStopping', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const noHyperband = await post(app, '/v1/sweeps', bohbSpec(w, { earlyStopping: undefined }));
    assert.equal(noHyperband.statusCode, 400, noHyperband.body);
    assert.equal(firstIssue(noHyperband.body)?.path, 'earlyStopping');
    assert.match(
      firstIssue(noHyperband.body)?.message ?? '',
      /add earlyStopping: \{ type: hyperband \}/,
    );

    const brackets = await post(
      app,
      '/v1/sweeps',
      bohbSpec(w, { earlyStopping: { type: 'hyperband', brackets: 4 } }),
    );
    assert.equal(brackets.statusCode, 400, brackets.body);
    assert.equal(firstIssue(brackets.body)?.path, 'earlyStopping');
    // 9 epochs at eta 3 from epoch 1: rungs 1 and 3, so 3 brackets.
    assert.match(
      firstIssue(brackets.body)?.message ?? '',
      /brackets must be an integer from 1 to 3/,
    );
  } finally {
    await w.close();
  }
});

test('a bohb sweep: hyperband in the payload, and the model takes over from the finished trials', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await api.createSweep(app, bohbSpec(w));
    const [job] = await w.queue.getWaiting();
    assert.deepEqual(job?.data.earlyStopping, {
      type: 'hyperband',
      reductionFactor: 3,
      maxEpochs: 9,
    });
    // Objective = dropout; trials alternate between being stopped at rung 1 or 3 and finishing.
    const budgets = [1, 3, 9];
    w.worker((j) => {
      const epochs = budgets[j.data.trialNumber % 3] ?? 9;
      return Promise.resolve({
        trialId: j.data.trialId,
        status: epochs === 9 ? 'completed' : 'early-stopped',
        objectiveValue: Number(j.data.params['dropout']),
        bestEpoch: epochs,
        epochsCompleted: epochs,
        trialJson: `runs/${j.data.sweepId}/trials/${j.data.trialId}/trial.json`,
      });
    });
    const done = await api.untilSweep(
      app,
      sweep.id,
      (s) => s.status === 'completed',
      'the bohb sweep to complete',
    );
    assert.equal(done.trials.length, 8);
    // Until 3 trials have finished BOHB samples what random search would; after, its model does.
    const same = sameAsRandomSearch(
      done.trials,
      { dropout: { type: 'uniform', min: 0.05, max: 0.6 } },
      3,
      'dropout',
    );
    assert.deepEqual(same.slice(0, 3), [true, true, true]);
    assert.ok(
      same.slice(3).every((s) => !s),
      `model trials: ${JSON.stringify(same)}`,
    );
  } finally {
    await w.close();
  }
});
