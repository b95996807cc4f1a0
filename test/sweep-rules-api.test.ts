// Conditional parameters (`when:`) and constraints through the API, against a real redis-server
// and s3rver with an in-test BullMQ worker: bad expressions are 400s at their field, a space no
// point satisfies is refused at submit, and a conditional grid runs only its feasible points.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type ApiApp } from '@setrain/api';
import { type ParamSet } from '@setrain/protocol';

import { useApiTestFile, type ApiWorld } from './api-world.js';

const api = useApiTestFile({
  label: 'rules',
  apiKey: 'test-key-rules-0123456789',
  appDeps: { metrics: false },
});

/** momentum only for sgd; batchSize * inputSize capped: 2 optimizer variants x 3 sizes. */
function conditionalSpec(w: ApiWorld, search: Record<string, unknown> = {}): object {
  return {
    dataset: w.dataset,
    training: { epochs: 1 },
    search: {
      strategy: 'grid',
      parameters: {
        optimizer: ['adam', 'sgd'],
        momentum: { type: 'values', values: [0.9], when: "optimizer == 'sgd'" },
        batchSize: [8, 16],
        inputSize: [75, 96],
      },
      constraints: ['batchSize * inputSize <= 1200'],
      ...search,
    },
    parallelism: 2,
  };
}

function post(app: ApiApp, url: string, payload: object) {
  return api.request(app, 'POST', url, payload);
}

function issuesOf(body: string): { path: string; message: string }[] {
  return api.errorOf(body).issues ?? [];
}

test('bad conditions and constraints are 400 SPEC_INVALID at their field', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const bad = await post(
      app,
      '/v1/sweeps',
      conditionalSpec(w, { constraints: ['batchSize * > 2', 'learningRate < 0.1'] }),
    );
    assert.equal(bad.statusCode, 400, bad.body);
    const issues = issuesOf(bad.body);
    assert.deepEqual(
      issues.map((i) => i.path),
      ['search.constraints[0]', 'search.constraints[1]'],
    );
    assert.match(issues[0]?.message ?? '', /unexpected ">" \(at column 13\)/);
    assert.match(issues[1]?.message ?? '', /"learningRate" is not a parameter of this search/);

    const badWhen = await post(app, '/v1/sweeps/preview', {
      ...conditionalSpec(w),
      search: {
        strategy: 'random',
        parameters: { dropout: { type: 'uniform', min: 0, max: 0.5, when: 'dropout.x > 1' } },
      },
    });
    assert.equal(badWhen.statusCode, 400, badWhen.body);
    assert.equal(issuesOf(badWhen.body)[0]?.path, 'search.parameters.dropout.when');

    // Parses, but no point meets it: refused at submit, not a sweep that never starts a trial.
    for (const strategy of ['grid', 'random']) {
      const never = await post(
        app,
        '/v1/sweeps',
        conditionalSpec(w, { strategy, constraints: ['batchSize > 100'] }),
      );
      assert.equal(never.statusCode, 400, never.body);
      assert.equal(issuesOf(never.body)[0]?.path, 'search.constraints');
      assert.match(issuesOf(never.body)[0]?.message ?? '', /loosen search.constraints/);
    }
    assert.equal((await w.queue.getJobCounts()).waiting ?? 0, 0);
  } finally {
    await w.close();
  }
});

test('a conditional grid with a constraint runs exactly its distinct feasible points', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await api.createSweep(app, conditionalSpec(w));
    // (8, 75), (8, 96), (16, 75) fit under 1200; x {adam, sgd + momentum 0.9}.
    assert.equal(sweep.plannedTrials, 6);
    const ran: ParamSet[] = [];
    w.worker((job) => {
      ran.push(job.data.params);
      // The payload's resolved training config follows the params (no momentum override for adam).
      return Promise.resolve({
        trialId: job.data.trialId,
        status: 'completed',
        objectiveValue: 1,
        bestEpoch: 1,
        epochsCompleted: 1,
        trialJson: `runs/${job.data.sweepId}/trials/${job.data.trialId}/trial.json`,
      });
    });
    const done = await api.untilSweep(
      app,
      sweep.id,
      (s) => s.status === 'completed',
      'the conditional sweep to complete',
    );
    assert.equal(done.trials.length, 6);
    const keys = new Set(ran.map((p) => JSON.stringify(p)));
    assert.equal(keys.size, 6, 'no point ran twice');
    for (const params of ran) {
      assert.ok(Number(params['batchSize']) * Number(params['inputSize']) <= 1200);
      assert.equal(Object.hasOwn(params, 'momentum'), params['optimizer'] === 'sgd');
    }
  } finally {
    await w.close();
  }
});
