// Multi-objective sweeps through the API and its controller, against a real redis-server and
// s3rver with an in-test BullMQ worker standing in for training (it returns per-trial metrics as
// a real worker does; test/worker.test.ts checks a real one measures them): bad combinations are
// 400s at their field, strategy tpe runs multi-objective TPE once trials finish, GET /best answers
// the Pareto front, the sweep detail lists it, and /best/download without ?trial= names it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { type ApiApp } from '@setrain/api';
import {
  apiErrorBodySchema,
  paretoFrontResponseSchema,
  sweepDetailSchema,
  type SweepDetail,
  type TrialPayload,
} from '@setrain/protocol';
import { dominates } from '@setrain/sweep';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { sameAsRandomSearch } from './fixtures/random-search-points.js';
import { startRedis, startS3, waitFor, type RedisServer, type S3Server } from './harness/index.js';

const API_KEY = 'test-key-multi-objective-0123456789';
const AUTH = { authorization: `Bearer ${API_KEY}` };

let redisServer: RedisServer;
let s3: S3Server;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
});
after(async () => {
  await Promise.all([redisServer.stop(), s3.stop()]);
});

function world(): Promise<ApiWorld> {
  return createApiWorld({
    redisServer,
    s3,
    label: 'multi-objective',
    apiKeys: [API_KEY],
    appDeps: { metrics: false },
  });
}

const SPACE = { dropout: { type: 'uniform' as const, min: 0, max: 0.9 } };
const OBJECTIVES = [
  { metric: 'val_accuracy', goal: 'maximize' },
  { metric: 'latency_ms', goal: 'minimize' },
];

function moSpec(w: ApiWorld, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataset: w.dataset,
    training: { epochs: 2, seed: 5 },
    search: { strategy: 'tpe', parameters: SPACE, tpe: { startupTrials: 3 } },
    objectives: OBJECTIVES,
    maxTrials: 7,
    parallelism: 1,
    ...extra,
  };
}

async function post(app: ApiApp, url: string, payload: object) {
  return app.inject({ method: 'POST', url, headers: AUTH, payload });
}

async function get(app: ApiApp, url: string) {
  return app.inject({ method: 'GET', url, headers: AUTH });
}

function errorOf(body: string) {
  return apiErrorBodySchema.parse(JSON.parse(body)).error;
}

/** A synthetic trade-off: latency grows with dropout, accuracy peaks at 0.5 (so past it trials lose). */
function valuesOf(payload: TrialPayload): { accuracy: number; latency: number } {
  const x = Number(payload.params['dropout']);
  return { accuracy: 1 - (x - 0.5) ** 2, latency: 1 + 10 * x };
}

test('objectives: both fields, early stopping or pbt with several objectives are 400s at the field', async () => {
  const w = await world();
  try {
    const app = await w.app();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ objective: { metric: 'val_loss' } }, 'objectives', /not both/],
      [{ earlyStopping: { type: 'asha' } }, 'earlyStopping', /not defined for several objectives/],
      [
        {
          search: {
            strategy: 'pbt',
            parameters: {},
            pbt: { populationSize: 2, perturbationInterval: 1 },
          },
        },
        'search.strategy',
        /supports one objective only/,
      ],
      [{ objectives: [{ metric: 'latency_ms' }] }, 'objectives', /exactly one epoch metric/],
    ];
    for (const [extra, path, message] of cases) {
      const res = await post(app, '/v1/sweeps', moSpec(w, extra));
      assert.equal(res.statusCode, 400, res.body);
      const error = errorOf(res.body);
      assert.equal(error.code, 'SPEC_INVALID');
      const issue = error.issues?.find((i) => i.path === path);
      assert.ok(issue, `${path} in ${res.body}`);
      assert.match(issue.message, message);
    }
  } finally {
    await w.close();
  }
});

test('a multi-objective tpe sweep: MOTPE after startup, the front on /best and in the detail', async () => {
  const w = await world();
  try {
    const app = await w.app();
    const created = await post(app, '/v1/sweeps', moSpec(w));
    assert.equal(created.statusCode, 201, created.body);
    const sweep = sweepDetailSchema.parse(created.json());
    assert.deepEqual(sweep.objectives, OBJECTIVES);
    assert.deepEqual(sweep.objective, OBJECTIVES[0]);
    w.worker((j) => {
      const { accuracy, latency } = valuesOf(j.data);
      return Promise.resolve({
        trialId: j.data.trialId,
        status: 'completed',
        objectiveValue: accuracy,
        bestEpoch: 2,
        epochsCompleted: 2,
        trialMetrics: { param_count: 1000, latency_ms: latency, seconds_per_epoch: 1 },
        trialJson: `runs/${j.data.sweepId}/trials/${j.data.trialId}/trial.json`,
      });
    });
    const done = await waitFor(
      async () => {
        const s: SweepDetail = sweepDetailSchema.parse(
          (await get(app, `/v1/sweeps/${sweep.id}`)).json(),
        );
        return s.status === 'completed' ? s : undefined;
      },
      { what: 'the multi-objective sweep to complete', timeoutMs: 20_000 },
    );
    assert.equal(done.trials.length, 7);
    assert.equal(done.best, null, 'several objectives: no single best');
    // The startup trials are random search's points; after them the model (MOTPE) chooses.
    const same = sameAsRandomSearch(done.trials, SPACE, 5, 'dropout');
    assert.deepEqual(same.slice(0, 3), [true, true, true]);
    assert.ok(
      same.slice(3).every((s) => !s),
      JSON.stringify(same),
    );

    // The front: exactly the trials no other dominates, with their values in objectives order.
    const points = done.trials.map((t) => ({
      n: t.trialNumber,
      values: [t.objectiveValue ?? NaN, t.trialMetrics?.latency_ms ?? NaN],
    }));
    const goals = ['maximize', 'minimize'] as const;
    const expected = points
      .filter((p) => !points.some((q) => q !== p && dominates(q.values, p.values, goals)))
      .map((p) => p.n);
    assert.ok(expected.length >= 2, `front ${JSON.stringify(points)}`);
    assert.deepEqual(done.front, expected);
    const best = await get(app, `/v1/sweeps/${sweep.id}/best`);
    assert.equal(best.statusCode, 200, best.body);
    const front = paretoFrontResponseSchema.parse(best.json());
    assert.deepEqual(front.objectives, OBJECTIVES);
    assert.deepEqual(
      front.front.map((t) => [t.trialNumber, t.values]),
      points.filter((p) => expected.includes(p.n)).map((p) => [p.n, p.values]),
    );

    // No single best/ to download: the error names the front and how to pick one trial.
    const download = await get(app, `/v1/sweeps/${sweep.id}/best/download`);
    assert.equal(download.statusCode, 409, download.body);
    assert.equal(errorOf(download.body).code, 'NO_SINGLE_BEST');
    assert.match(
      errorOf(download.body).message,
      new RegExp(`trials ${expected.join(', ')}\\b.*\\?trial=N`),
    );
    // ?trial=N picks one trial (this stand-in wrote no trial.json, so it is not found yet).
    const one = await get(app, `/v1/sweeps/${sweep.id}/best?trial=${expected[0]}`);
    assert.equal(one.statusCode, 404, one.body);
    assert.match(
      errorOf(one.body).message,
      new RegExp(`trials/${sweep.id}\\.${expected[0]}/trial\\.json does not exist`),
    );
    const missing = await get(app, `/v1/sweeps/${sweep.id}/best?trial=99`);
    assert.equal(errorOf(missing.body).code, 'TRIAL_NOT_FOUND');

    // The OpenAPI document describes both /best shapes and the trial query.
    const docs = JSON.stringify((await get(app, '/docs/json')).json());
    assert.match(docs, /"front":\{"type":"array"/);
    assert.match(docs, /"name":"trial"/);
  } finally {
    await w.close();
  }
});
