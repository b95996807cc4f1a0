// Smarter sweeps in the API and its controller, against a real redis-server and s3rver with an
// in-test BullMQ worker: PATCH, pause/resume, budgets (target, no improvement, wall clock), warm
// start, preview, the early-stopping rule in trial payloads, and a TPE sweep across a restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { sweepRecordSchema, type ApiApp } from '@setrain/api';
import { runCli } from '@setrain/cli';
import {
  listSweepsResponseSchema,
  parseSweepSpec,
  previewResponseSchema,
  redisKeys,
  sweepDetailSchema,
  trialPayloadSchema,
  type SweepDetail,
  type TrialPayload,
  type TrialResult,
} from '@setrain/protocol';
import { createSampler } from '@setrain/sweep';
import { decideAfterEpoch, readSweepProgress } from '@setrain/worker';
import { type Job } from 'bullmq';
import { Redis } from 'ioredis';

import { useApiTestFile, type ApiWorld } from './api-world.js';
import { waitFor } from './harness/index.js';

const api = useApiTestFile({
  label: 'sweeps',
  apiKey: 'test-key-0123456789abcdef',
  appDeps: { metrics: false },
});
const { auth: AUTH, request, createSweep, getSweep, untilSweep, errorOf } = api;

type World = ApiWorld;

/** A grid over dropout (6 points) and the objective the fake workers report for it. */
function gridSpec(w: World, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataset: w.dataset,
    training: { epochs: 3 },
    search: {
      strategy: 'grid',
      parameters: { dropout: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 4,
    parallelism: 1,
    ...extra,
  };
}

/** What a fake worker returns: objective = the trial's dropout unless `value` says otherwise. */
function result(job: Job<TrialPayload>, value = Number(job.data.params['dropout'])): TrialResult {
  return {
    trialId: job.data.trialId,
    status: 'completed',
    objectiveValue: value,
    bestEpoch: 1,
    epochsCompleted: 1,
    trialJson: `runs/${job.data.sweepId}/trials/${job.data.trialId}/trial.json`,
  };
}

function untilEnded(app: ApiApp, id: string): Promise<SweepDetail> {
  return untilSweep(
    app,
    id,
    (s) => s.status !== 'running' && s.status !== 'paused',
    `sweep ${id} to end`,
  );
}

test('PATCH changes parallelism and maxTrials of a running sweep; 400 below started, 409 when ended', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { maxTrials: 2 }));
    assert.equal(sweep.trials.length, 1);

    const tooFew = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, { maxTrials: 0 });
    assert.equal(tooFew.statusCode, 400);
    assert.equal(errorOf(tooFew.body).code, 'REQUEST_INVALID');
    const empty = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, {});
    assert.equal(empty.statusCode, 400);
    const unknown = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, { epochs: 3 });
    assert.equal(unknown.statusCode, 400);
    const missing = await request(app, 'PATCH', '/v1/sweeps/sw-nosuchsweep', { parallelism: 2 });
    assert.equal(missing.statusCode, 404);
    assert.equal(errorOf(missing.body).code, 'SWEEP_NOT_FOUND');

    const patched = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, {
      parallelism: 3,
      maxTrials: 100,
    });
    assert.equal(patched.statusCode, 200, patched.body);
    const detail = sweepDetailSchema.parse(patched.json());
    // A grid's planned count stays capped at its size.
    assert.equal(detail.plannedTrials, 6);
    assert.equal(detail.spec.parallelism, 3);
    assert.deepEqual(
      detail.trials.map((t) => [t.trialNumber, t.status]),
      [
        [1, 'queued'],
        [2, 'queued'],
        [3, 'queued'],
      ],
    );
    assert.equal(await w.queue.getWaitingCount(), 3);

    const below = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, { maxTrials: 2 });
    assert.equal(below.statusCode, 400, below.body);
    assert.deepEqual(
      errorOf(below.body).issues?.map((i) => i.path),
      ['maxTrials'],
    );
    const lower = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, { maxTrials: 4 });
    assert.equal(lower.statusCode, 200, lower.body);

    w.worker((job) => Promise.resolve(result(job)));
    const done = await untilEnded(app, sweep.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.completed, 4);
    assert.equal(done.plannedTrials, 4);

    const ended = await request(app, 'PATCH', `/v1/sweeps/${sweep.id}`, { parallelism: 1 });
    assert.equal(ended.statusCode, 409);
    assert.equal(errorOf(ended.body).code, 'SWEEP_FINISHED');
  } finally {
    await w.close();
  }
});

test('a paused sweep enqueues nothing new, lets its running trial finish, and resumes', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { parallelism: 2 }));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const started: number[] = [];
    w.worker(async (job) => {
      started.push(job.data.trialNumber);
      if (job.data.trialNumber === 1) await held;
      return result(job);
    });
    // The worker holds trial 1; trial 2 waits in the queue.
    await waitFor(async () => started.includes(1) && (await w.queue.getWaitingCount()) === 1, {
      what: 'trial 1 running, trial 2 waiting',
    });
    const paused = await request(app, 'POST', `/v1/sweeps/${sweep.id}/pause`);
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal(sweepDetailSchema.parse(paused.json()).status, 'paused');
    const again = await request(app, 'POST', `/v1/sweeps/${sweep.id}/pause`);
    assert.equal(again.statusCode, 200, 'pausing twice is a no-op');
    assert.equal(await w.queue.getWaitingCount(), 0);

    release();
    await waitFor(async () => (await getSweep(app, sweep.id)).counts.running === 0, {
      what: 'the running trials to finish while paused',
    });
    await sleep(600); // three reconcile passes
    const whilePaused = await getSweep(app, sweep.id);
    assert.equal(whilePaused.status, 'paused');
    assert.deepEqual(
      whilePaused.trials.map((t) => [t.trialNumber, t.status]),
      [
        [1, 'completed'],
        [2, 'queued'],
      ],
    );
    assert.equal(await w.queue.getWaitingCount(), 0);
    assert.deepEqual(started, [1]);

    const resumed = await request(app, 'POST', `/v1/sweeps/${sweep.id}/resume`);
    assert.equal(resumed.statusCode, 200, resumed.body);
    const done = await untilEnded(app, sweep.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.deepEqual(
      done.trials.map((t) => [t.trialNumber, t.status]),
      [1, 2, 3, 4].map((n) => [n, 'completed']),
    );
    assert.equal((await w.queue.getJobs(['completed'])).length, 4);
    const ended = await request(app, 'POST', `/v1/sweeps/${sweep.id}/resume`);
    assert.equal(ended.statusCode, 409);
    assert.equal(errorOf(ended.body).code, 'SWEEP_FINISHED');
  } finally {
    await w.close();
  }
});

test('a paused sweep can be cancelled; its queued trials end cancelled', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { parallelism: 2 }));
    await request(app, 'POST', `/v1/sweeps/${sweep.id}/pause`);
    const cancel = await request(app, 'POST', `/v1/sweeps/${sweep.id}/cancel`, {});
    assert.equal(cancel.statusCode, 200, cancel.body);
    const done = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.counts.cancelled === 2 ? s : undefined;
      },
      { what: 'the queued trials cancelled' },
    );
    assert.equal(done.status, 'cancelled');
  } finally {
    await w.close();
  }
});

test('budget.targetObjective stops the sweep once a trial reaches it', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    // Objective per trial: 0.9, 0.5, 0.2, 0.1, ... (minimised); the target 0.25 is met by trial 3.
    const values = [0.9, 0.5, 0.2, 0.1, 0.05, 0.01];
    const sweep = await createSweep(
      app,
      gridSpec(w, { maxTrials: 6, budget: { targetObjective: 0.25 } }),
    );
    w.worker((job) => Promise.resolve(result(job, values[job.data.trialNumber - 1])));
    const done = await untilEnded(app, sweep.id);
    assert.equal(done.status, 'completed');
    assert.match(done.reason ?? '', /^target objective reached: trial \S+\.3 has val_loss 0\.2/);
    assert.equal(done.best?.trialId, `${sweep.id}.3`);
    assert.ok(done.trials.length <= 4, `ran ${done.trials.length} trials`);
  } finally {
    await w.close();
  }
});

test('budget.noImprovementTrials stops the sweep after N trials without a new best', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const values = [0.5, 0.3, 0.4, 0.6, 0.7, 0.1];
    const sweep = await createSweep(
      app,
      gridSpec(w, { maxTrials: 6, budget: { noImprovementTrials: 2 } }),
    );
    w.worker((job) => Promise.resolve(result(job, values[job.data.trialNumber - 1])));
    const done = await untilEnded(app, sweep.id);
    assert.equal(done.status, 'completed');
    assert.match(done.reason ?? '', /^no improvement in 2 trials since trial \S+\.2/);
    assert.equal(done.best?.objectiveValue, 0.3);
    assert.equal(done.counts.completed, 4);
    assert.ok(done.trials.length <= 5);
  } finally {
    await w.close();
  }
});

test('budget.maxWallClockSeconds stops the sweep and cancels its running trial', async () => {
  const w = await api.world();
  const subscriber = new Redis(api.redisServer.url);
  try {
    const app = await w.app();
    await subscriber.subscribe(redisKeys(w.prefix).controlChannel);
    let cancelled: (reason: string) => void = () => undefined;
    const cancel = new Promise<string>((resolve) => (cancelled = resolve));
    subscriber.on('message', (_channel, text) => {
      cancelled((JSON.parse(text) as { reason: string }).reason);
    });
    const sweep = await createSweep(
      app,
      gridSpec(w, { maxTrials: 6, budget: { maxWallClockSeconds: 1 } }),
    );
    w.worker(async (job) => {
      if (job.data.trialNumber === 1) return result(job);
      throw new Error(`cancelled: ${await cancel}`);
    });
    const done = await untilEnded(app, sweep.id);
    assert.equal(done.status, 'completed');
    assert.match(done.reason ?? '', /^wall-clock budget of 1 s spent/);
    const settled = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.counts.running + s.counts.queued === 0 ? s : undefined;
      },
      { what: 'the running trial cancelled' },
    );
    assert.equal(settled.counts.completed, 1);
    assert.equal(settled.counts.cancelled, 1);
    assert.match(settled.trials[1]?.reason ?? '', /sweep stopped: wall-clock budget/);
  } finally {
    subscriber.disconnect();
    await w.close();
  }
});

test('warm start seeds TPE with the in-space results of earlier sweeps', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const source = await createSweep(app, gridSpec(w, { maxTrials: 4, parallelism: 2 }));
    w.worker((job) => Promise.resolve(result(job)));
    await untilEnded(app, source.id);

    const bad = await request(app, 'POST', '/v1/sweeps', {
      ...gridSpec(w),
      objective: { metric: 'val_accuracy', goal: 'maximize' },
      warmStart: { sweeps: [source.id, 'sw-nosuchsweep'] },
    });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.deepEqual(
      errorOf(bad.body).issues?.map((i) => i.path),
      ['warmStart.sweeps[0]', 'warmStart.sweeps[1]'],
    );

    // dropout 0.4 of the source lies outside [0.05, 0.35]: three of its four trials seed TPE.
    const tpeSpec = {
      dataset: w.dataset,
      training: { epochs: 3 },
      search: {
        strategy: 'tpe',
        parameters: { dropout: { type: 'uniform', min: 0.05, max: 0.35 } },
        tpe: { startupTrials: 3 },
      },
      objective: { metric: 'val_loss', goal: 'minimize' },
      maxTrials: 1,
    };
    const warm = await createSweep(app, { ...tpeSpec, warmStart: { sweeps: [source.id] } });
    const raw = await w.redis.get(redisKeys(w.prefix).sweep(warm.id));
    const record = sweepRecordSchema.parse(JSON.parse(raw ?? '{}'));
    assert.deepEqual(
      record.warmStart.map((t) => [t.trialId, t.params['dropout'], t.objectiveValue]),
      [
        [`${source.id}.1`, 0.1, 0.1],
        [`${source.id}.2`, 0.2, 0.2],
        [`${source.id}.3`, 0.3, 0.3],
      ],
    );
    // With three results TPE skips its three random startup trials: trial 1 is TPE's choice.
    const spec = parseSweepSpec(tpeSpec);
    const tpe = createSampler(
      { ...spec.search, tpe: { startupTrials: 0 } },
      { seed: spec.training.seed, goal: 'minimize' },
    );
    const expected = tpe.suggest({
      trialNumber: 1,
      history: record.warmStart.map((t, i) => ({
        trialNumber: -i,
        params: t.params,
        value: t.objectiveValue,
        status: 'completed',
      })),
    });
    assert.deepEqual(warm.trials[0]?.params, expected);
    const cold = await createSweep(app, tpeSpec);
    assert.notDeepEqual(cold.trials[0]?.params, warm.trials[0]?.params);
  } finally {
    await w.close();
  }
});

test('POST /v1/sweeps/preview lists the first n configurations and stores nothing', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const grid = await request(app, 'POST', '/v1/sweeps/preview?n=3', gridSpec(w));
    assert.equal(grid.statusCode, 200, grid.body);
    const body = previewResponseSchema.parse(grid.json());
    assert.equal(body.strategy, 'grid');
    assert.equal(body.plannedTrials, 4);
    assert.deepEqual(
      body.configurations.map((c) => [c.trialNumber, c.params['dropout'], c.dependsOnResults]),
      [
        [1, 0.1, false],
        [2, 0.2, false],
        [3, 0.3, false],
      ],
    );

    const yaml = await app.inject({
      method: 'POST',
      url: '/v1/sweeps/preview?n=4',
      headers: { ...AUTH, 'content-type': 'application/yaml' },
      payload: [
        `dataset: ${w.dataset}`,
        'search:',
        '  strategy: tpe',
        '  parameters: { learningRate: { type: log_uniform, min: 0.0001, max: 0.1 } }',
        '  tpe: { startupTrials: 2 }',
        'maxTrials: 8',
      ].join('\n'),
    });
    assert.equal(yaml.statusCode, 200, yaml.body);
    const tpe = previewResponseSchema.parse(yaml.json());
    assert.deepEqual(
      tpe.configurations.map((c) => c.dependsOnResults),
      [false, false, true, true],
    );

    const bad = await request(app, 'POST', '/v1/sweeps/preview', { ...gridSpec(w), bogus: 1 });
    assert.equal(bad.statusCode, 400);
    assert.equal(errorOf(bad.body).code, 'SPEC_INVALID');
    const badN = await request(app, 'POST', '/v1/sweeps/preview?n=0', gridSpec(w));
    assert.equal(badN.statusCode, 400);

    const list = listSweepsResponseSchema.parse((await request(app, 'GET', '/v1/sweeps')).json());
    assert.equal(list.total, 0);

    // The new routes are in the OpenAPI document.
    const docs = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    assert.ok(docs.paths['/v1/sweeps/preview']?.['post']);
    assert.ok(docs.paths['/v1/sweeps/{id}']?.['patch']);
    assert.ok(docs.paths['/v1/sweeps/{id}/pause']?.['post']);
    assert.ok(docs.paths['/v1/sweeps/{id}/resume']?.['post']);
  } finally {
    await w.close();
  }
});

test('trial payloads carry the early-stopping rule with ASHA maxEpochs resolved; a TPE sweep survives a restart', async () => {
  const w = await api.world();
  try {
    const first = await w.app();
    const spec = {
      dataset: w.dataset,
      training: { epochs: 4 },
      search: {
        strategy: 'tpe',
        parameters: { dropout: { type: 'uniform', min: 0.05, max: 0.6 } },
        tpe: { startupTrials: 2 },
      },
      objective: { metric: 'val_loss', goal: 'minimize' },
      earlyStopping: { type: 'asha', reductionFactor: 2 },
      maxTrials: 5,
      parallelism: 2,
    };
    const sweep = await createSweep(first, spec);
    const [job] = await w.queue.getWaiting();
    assert.deepEqual(job?.data.earlyStopping, {
      type: 'asha',
      reductionFactor: 2,
      maxEpochs: 4,
    });
    await first.close();
    // Trials finish (results, one early-stopped) while no controller runs.
    w.worker((j) =>
      Promise.resolve({
        ...result(j),
        ...(j.data.trialNumber === 2
          ? { status: 'early-stopped', reason: 'early-stopped: test' }
          : {}),
      }),
    );
    await waitFor(async () => (await w.queue.getCompletedCount()) === 2, {
      what: 'the first two trials',
    });
    const second = await w.app();
    const done = await untilEnded(second, sweep.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(
      done.trials.map((t) => [t.trialNumber, t.status]),
      [
        [1, 'completed'],
        [2, 'early-stopped'],
        [3, 'completed'],
        [4, 'completed'],
        [5, 'completed'],
      ],
    );
    assert.equal(done.trials[1]?.reason, 'early-stopped: test');
    assert.equal((await w.queue.getJobs(['completed', 'failed', 'waiting', 'active'])).length, 5);
  } finally {
    await w.close();
  }
});

test('setrain sweep preview prints the first N configurations as a table or JSON', async () => {
  const w = await api.world();
  const dir = await mkdtemp(join(tmpdir(), 'setrain-preview-'));
  try {
    const app = await w.app();
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const specPath = join(dir, 'spec.yaml');
    await writeFile(
      specPath,
      [
        `dataset: ${w.dataset}`,
        'search:',
        '  strategy: grid',
        '  parameters: { dropout: [0.1, 0.2, 0.3], optimizer: [adam, sgd] }',
      ].join('\n'),
    );
    const run = async (argv: string[]) => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => (text += c.toString()));
      const code = await runCli([...argv, '--api-key', api.apiKey, '--api-url', url], {
        env: { XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir },
        in: Readable.from([]),
        out,
        err: new PassThrough(),
      });
      return { code, text };
    };
    const table = await run(['sweep', 'preview', specPath, '-n', '3']);
    assert.equal(table.code, 0, table.text);
    const lines = table.text.trimEnd().split('\n');
    assert.equal(lines[0], 'strategy grid: 6 trials planned; first 3');
    assert.match(lines[1] ?? '', /TRIAL\s+dropout\s+optimizer/);
    assert.match(lines[2] ?? '', /#1\s+0\.1\s+adam/);
    assert.match(lines[4] ?? '', /#3\s+0\.2\s+adam/);
    assert.equal(lines.length, 5);
    const json = await run(['sweep', 'preview', specPath, '--json']);
    assert.equal(json.code, 0);
    assert.equal(previewResponseSchema.parse(JSON.parse(json.text)).configurations.length, 6);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await w.close();
  }
});

test('the worker decides early stopping from the trial states and epoch lists in Redis', async () => {
  const w = await api.world();
  try {
    const keys = redisKeys(w.prefix);
    const sweepId = 'sw-earlystop1';
    const trials: [number, 'completed' | 'running' | 'failed', number[]][] = [
      [1, 'completed', [0.9, 0.5, 0.4]],
      [2, 'running', [1.2, 1.1]],
      [3, 'failed', [0.8]],
    ];
    for (const [n, status, values] of trials) {
      const trialId = `${sweepId}.${n}`;
      await w.redis.hset(
        keys.sweepTrials(sweepId),
        trialId,
        JSON.stringify({ trialId, trialNumber: n, status, params: {}, objectiveValue: null }),
      );
      await w.redis.rpush(
        keys.trialEpochs(trialId),
        ...values.map((v, i) =>
          JSON.stringify({
            epoch: i + 1,
            loss: v,
            accuracy: 0.5,
            val_loss: v,
            val_accuracy: 0.5,
            durationMs: 1,
            imagesPerSec: 1,
          }),
        ),
      );
    }
    const objective = { metric: 'val_loss', goal: 'minimize' } as const;
    const progress = await readSweepProgress(w.redis, w.prefix, sweepId, objective);
    assert.deepEqual(
      progress
        .sort((a, b) => a.trialNumber - b.trialNumber)
        .map((p) => [p.trialNumber, p.status, p.epochValues]),
      trials,
    );
    const payload = trialPayloadSchema.parse({
      sweepId,
      trialId: `${sweepId}.2`,
      trialNumber: 2,
      dataset: w.dataset,
      model: {},
      training: { epochs: 3 },
      objective,
      params: {},
      artifactsBucket: 'unused',
      earlyStopping: { type: 'asha', minEpochs: 1, reductionFactor: 2, maxEpochs: 3 },
    });
    const stop = await decideAfterEpoch(w.redis, w.prefix, payload, 2);
    assert.equal(stop.action, 'stop');
    assert.match(
      stop.reason ?? '',
      /^early-stopped: asha rung 1 \(epoch 2\), 1\.1 worse than cutoff 0\.5/,
    );
    // The last epoch is never a stop; no rule, no stop.
    assert.deepEqual(await decideAfterEpoch(w.redis, w.prefix, payload, 3), { action: 'continue' });
    const { earlyStopping: _rule, ...noRule } = payload;
    assert.deepEqual(await decideAfterEpoch(w.redis, w.prefix, noRule, 2), { action: 'continue' });
  } finally {
    await w.close();
  }
});

test('a spec with notify is refused by an API without a webhook secret, naming the field', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const notify = { webhooks: [{ url: 'https://hooks.example.com/setrain' }] };
    const response = await request(app, 'POST', '/v1/sweeps', gridSpec(w, { notify }));
    assert.equal(response.statusCode, 400, response.body);
    const body = response.json<{ error: { code: string; issues: { path: string }[] } }>();
    assert.equal(body.error.code, 'SPEC_INVALID');
    assert.deepEqual(
      body.error.issues.map((i) => i.path),
      ['notify'],
    );
    assert.match(response.body, /no SETRAIN_WEBHOOK_SECRET/);
  } finally {
    await w.close();
  }
});
