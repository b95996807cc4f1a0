// Multi-objective sweeps through the API and its controller, against a real redis-server and
// s3rver (the shared useApiTestFile fixture) with an in-test BullMQ worker standing in for
// training: it writes each trial's real artifacts (trial.json, best/ and final/ weights) to S3 under
// the worker's key layout from packages/protocol (runKeys, via writeFinishedTrial) and returns
// per-trial metrics as a real worker does (test/worker.test.ts checks a real one measures them).
// Bad combinations are 400s at their field, strategy tpe runs multi-objective TPE once trials
// finish, GET /best answers the Pareto front, the sweep detail lists it, /best/download without
// ?trial= names it, and ?trial=N (API, tar download and `setrain fetch-best --trial N`) downloads
// trial N's own weights from S3.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { type ApiApp } from '@setrain/api';
import {
  bestTrialResponseSchema,
  runKeys,
  paretoFrontResponseSchema,
  type SweepDetail,
  type TrialPayload,
} from '@setrain/protocol';
import { listKeys } from '@setrain/storage';
import { dominates, hypervolume2d } from '@setrain/sweep';

import { createApiMetrics } from '../apps/api/src/metrics.js';

import { useApiTestFile, writeFinishedTrial, type ApiWorld } from './api-world.js';
import { sameAsRandomSearch } from './fixtures/random-search-points.js';
import { runSetrain } from './fixtures/setrain-cli.js';
import { tarEntries } from './fixtures/tar-entries.js';
import { tempDir, waitFor } from './harness/index.js';

const api = useApiTestFile({
  label: 'multi-objective',
  apiKey: 'test-key-multi-objective-0123456789',
  appDeps: { metrics: false },
});

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

const get = (app: ApiApp, url: string) => api.request(app, 'GET', url);

/** A synthetic trade-off: latency grows with dropout, accuracy peaks at 0.5 (so past it trials lose). */
function valuesOf(payload: TrialPayload): { accuracy: number; latency: number } {
  const x = Number(payload.params['dropout']);
  return { accuracy: 1 - (x - 0.5) ** 2, latency: 1 + 10 * x };
}

/** Worse than every trial in both objectives (accuracy is at least 0.75, latency at most 10). */
const REFERENCE_POINT = [0.5, 12];

/**
 * A worker's end of each trial, as the real worker leaves it in S3 (writeFinishedTrial: trial.json,
 * best/ and final/ under runKeys), with valuesOf's accuracy and latency as its metrics.
 */
function standInWorker(w: ApiWorld): void {
  w.worker(async (j) => {
    const { accuracy, latency } = valuesOf(j.data);
    const result = await writeFinishedTrial(api.s3.client, w.bucket, j.data, accuracy);
    return {
      ...result,
      trialMetrics: { param_count: 1000, latency_ms: latency, seconds_per_epoch: 1 },
    };
  });
}

/** The weights byte writeFinishedTrial fills trial N's best/ weights with. */
const bestFill = (trialNumber: number) => trialNumber + 100;

test('objectives: both fields, early stopping or pbt with several objectives are 400s at the field', async () => {
  const w = await api.world();
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
      const res = await api.request(app, 'POST', '/v1/sweeps', moSpec(w, extra));
      assert.equal(res.statusCode, 400, res.body);
      const error = api.errorOf(res.body);
      assert.equal(error.code, 'SPEC_INVALID');
      const issue = error.issues?.find((i) => i.path === path);
      assert.ok(issue, `${path} in ${res.body}`);
      assert.match(issue.message, message);
    }
  } finally {
    await w.close();
  }
});

test('a multi-objective tpe sweep: MOTPE after startup, the front on /best and in the detail, any trial downloadable', async () => {
  const w = await api.world();
  const work = await tempDir('multi-objective');
  try {
    const app = await w.app();
    const sweep = await api.createSweep(app, moSpec(w, { referencePoint: REFERENCE_POINT }));
    assert.deepEqual(sweep.objectives, OBJECTIVES);
    assert.deepEqual(sweep.objective, OBJECTIVES[0]);
    standInWorker(w);
    const done: SweepDetail = await api.untilSweep(
      app,
      sweep.id,
      (s) => s.status === 'completed',
      'the multi-objective sweep to complete',
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
    const offFront = points.find((p) => !expected.includes(p.n))?.n;
    assert.ok(offFront !== undefined, `a trial off the front in ${JSON.stringify(points)}`);
    assert.deepEqual(done.front, expected);
    const best = await get(app, `/v1/sweeps/${sweep.id}/best`);
    assert.equal(best.statusCode, 200, best.body);
    const front = paretoFrontResponseSchema.parse(best.json());
    assert.deepEqual(front.objectives, OBJECTIVES);
    assert.deepEqual(
      front.front.map((t) => [t.trialNumber, t.values]),
      points.filter((p) => expected.includes(p.n)).map((p) => [p.n, p.values]),
    );
    // Its hypervolume against the spec's reference point, in the detail and on /best.
    const area = hypervolume2d(
      points.map((p) => p.values),
      [REFERENCE_POINT[0] ?? 0, REFERENCE_POINT[1] ?? 0],
      goals,
    );
    assert.ok(area > 0);
    const hv = { value: area, referencePoint: REFERENCE_POINT, referencePointFrom: 'spec' };
    assert.deepEqual(done.hypervolume, hv);
    assert.deepEqual(front.hypervolume, hv);

    // No single best/ to download: the error names the front and how to pick one trial.
    const download = await get(app, `/v1/sweeps/${sweep.id}/best/download`);
    assert.equal(download.statusCode, 409, download.body);
    assert.equal(api.errorOf(download.body).code, 'NO_SINGLE_BEST');
    assert.match(
      api.errorOf(download.body).message,
      new RegExp(`trials ${expected.join(', ')}\\b.*\\?trial=N`),
    );
    const missing = await get(app, `/v1/sweeps/${sweep.id}/best?trial=99`);
    assert.equal(api.errorOf(missing.body).code, 'TRIAL_NOT_FOUND');

    // ?trial=N: a trial off the front, its presigned URLs serving its own best/ weights from S3.
    const one = await get(app, `/v1/sweeps/${sweep.id}/best?trial=${offFront}`);
    assert.equal(one.statusCode, 200, one.body);
    const chosen = bestTrialResponseSchema.parse(one.json());
    assert.equal(chosen.trialId, `${sweep.id}.${offFront}`);
    assert.equal(chosen.weights, 'best');
    const weights = chosen.artifacts.find((a) => a.key.endsWith('/best/weights.bin'));
    assert.ok(weights, JSON.stringify(chosen.artifacts));
    const bytes = Buffer.from(await (await fetch(weights.url)).arrayBuffer());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), weights.sha256);
    assert.ok(bytes.length > 0 && bytes.every((b) => b === bestFill(offFront)));

    // The tar download of a front trial: its trial.json and its best/ files, nothing else.
    const onFront = expected[0] ?? 0;
    const tar = await app.inject({
      method: 'GET',
      url: `/v1/sweeps/${sweep.id}/best/download?trial=${onFront}`,
      headers: api.auth,
      payloadAsStream: true,
    });
    assert.equal(tar.statusCode, 200);
    const entries = await tarEntries(tar.stream());
    const t = `${sweep.id}.${onFront}`;
    assert.deepEqual(
      [...entries.keys()],
      [`${t}/trial.json`, `${t}/best/model.json`, `${t}/best/weights.bin`],
    );
    assert.ok(entries.get(`${t}/best/weights.bin`)?.every((b) => b === bestFill(onFront)));

    // `setrain fetch-best --trial N` against the listening API: trial N's files, verified.
    const apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    const setrain = (args: string[]) =>
      runSetrain(args, {
        SETRAIN_API_URL: apiUrl,
        SETRAIN_API_KEY: api.apiKey,
        XDG_CONFIG_HOME: join(work.path, 'config'),
      });
    const out = join(work.path, `trial-${offFront}`);
    const cli = await setrain(['fetch-best', sweep.id, '--trial', String(offFront), '-o', out]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`trial ${sweep.id}\\.${offFront}: val_accuracy`));
    assert.ok((await readFile(join(out, 'weights.bin'))).every((b) => b === bestFill(offFront)));
    const card = JSON.parse(await readFile(join(out, 'model-card.json'), 'utf8')) as {
      trialId: string;
      files: { verified: boolean }[];
    };
    assert.equal(card.trialId, `${sweep.id}.${offFront}`);
    assert.ok(card.files.length === 3 && card.files.every((f) => f.verified));

    // `setrain sweep status` marks the front and reports the hypervolume.
    const status = await setrain(['sweep', 'status', sweep.id]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      new RegExp(
        `Pareto front ${expected.length} trial\\(s\\), marked \\*; hypervolume \\S+ \\(reference point \\(0\\.5, 12\\) from spec\\)`,
      ),
    );

    // The OpenAPI document describes both /best shapes and the trial query.
    const docs = JSON.stringify((await get(app, '/docs/json')).json());
    assert.match(docs, /"front":\{"type":"array"/);
    assert.match(docs, /"name":"trial"/);
    assert.match(docs, /"referencePointFrom":\{"type":"string","enum":\["spec","front"\]/);
  } finally {
    await w.close();
    await work.cleanup();
  }
});

test('best-k retention keeps every front trial; the best-objective gauge has one series per objective', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    standInWorker(w);
    // Values exact in binary: trials 1-3 form the front; 2 dominates 4 (same accuracy, slower)
    // and 1 dominates 5.
    const sweep = await api.createSweep(app, {
      ...moSpec(w),
      search: { strategy: 'grid', parameters: { dropout: [0.125, 0.25, 0.5, 0.75, 0.875] } },
      maxTrials: 5,
      retention: { trials: 'best-k', k: 1 },
    });
    const done = await api.untilSweep(app, sweep.id, (s) => s.status === 'completed', 'the sweep');
    assert.deepEqual(done.front, [1, 2, 3]);
    await waitFor(
      () =>
        listKeys(api.s3.client, w.bucket, runKeys(sweep.id).archiveJson).then(
          (keys) => keys.length === 1 || undefined,
        ),
      { what: 'archive.json', timeoutMs: 20_000, intervalMs: 100 },
    );
    // k is 1, but the front has 3 trials: all keep their weights; the others keep trial.json only.
    for (const n of [1, 2, 3, 4, 5]) {
      const keys = runKeys(sweep.id).trial(`${sweep.id}.${n}`);
      const files = await listKeys(api.s3.client, w.bucket, keys.prefix);
      assert.ok(files.includes(keys.trialJson), `trial ${n}: ${files.join(', ')}`);
      assert.equal(
        files.includes(`${keys.best}weights.bin`),
        n <= 3,
        `trial ${n} ${n <= 3 ? 'keeps' : 'loses'} its weights: ${files.join(', ')}`,
      );
    }

    // The gauge: one series per objective, its best value over the trials (no plain sweep series).
    const metrics = createApiMetrics({
      queues: [],
      redis: w.redis,
      keyPrefix: w.prefix,
      collectDefaultMetrics: false,
    });
    const series = (await metrics.scrape(true))
      .split('\n')
      .filter((line) => line.startsWith(`setrain_sweep_best_objective{sweep="${sweep.id}"`));
    assert.deepEqual(series.sort(), [
      `setrain_sweep_best_objective{sweep="${sweep.id}",objective="latency_ms"} 2.25`,
      `setrain_sweep_best_objective{sweep="${sweep.id}",objective="val_accuracy"} 1`,
    ]);
  } finally {
    await w.close();
  }
});
