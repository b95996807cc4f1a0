// The HTTP API and its sweep controller against a real redis-server and s3rver: validation and
// auth errors, trials enqueued from the grid, a hand-driven BullMQ worker finishing a sweep, a
// controller restart mid-sweep, cancel (durable: recorded while another replica holds the lock,
// re-sent by the reconcile loop), the renewed and fenced sweep lock (a pass's first reads sent
// with it), a sweep whose trials all failed, stalled and requeued trials, best-trial download,
// and the OpenAPI document.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { StaleSweepWriteError, SweepLock, SweepStore, type PassReads } from '@setrain/api';
import {
  bestTrialResponseSchema,
  cancelSweepResponseSchema,
  listSweepsResponseSchema,
  redisKeys,
  runKeys,
  TRIALS_QUEUE,
  stopRequestSchema,
  SWEEP_STOP_FIELD,
  trialIdOf,
  sweepDetailSchema,
  trialDetailSchema,
  controlMessageSchema,
  type TrialPayload,
  type TrialRecord,
  type TrialResult,
} from '@setrain/protocol';
import { getJson } from '@setrain/storage';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

import { useApiTestFile, writeFinishedTrial, type ApiWorld } from './api-world.js';
import { tarEntries } from './fixtures/tar-entries.js';
import { waitFor } from './harness/index.js';

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

const api = useApiTestFile({
  label: 'api',
  apiKey: 'test-key-0123456789abcdef',
  otherApiKeys: ['another-key-0123456789'],
});
const { auth: AUTH, createSweep, getSweep, errorOf } = api;

type World = ApiWorld;

function gridSpec(w: World, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'grid test',
    dataset: w.dataset,
    training: { epochs: 1, batchSize: 2 },
    search: {
      strategy: 'grid',
      parameters: { dropout: [0.1, 0.2, 0.3], seRatio: [8, 16] },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 4,
    parallelism: 2,
    maxFailedTrials: 1,
    ...extra,
  };
}

/** A worker's end of a trial (see writeFinishedTrial). */
function finishTrial(
  bucket: string,
  payload: TrialPayload,
  objectiveValue: number,
): Promise<TrialResult> {
  return writeFinishedTrial(api.s3.client, bucket, payload, objectiveValue);
}

test('bad specs answer 400 naming the field; unknown keys answer 401', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const post = (payload: string | object, contentType = 'application/json', headers = AUTH) =>
      app.inject({
        method: 'POST',
        url: '/v1/sweeps',
        headers: { ...headers, 'content-type': contentType },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });

    const yaml = await post('dataset: [unclosed\nmaxTrials: 2\n', 'application/yaml');
    assert.equal(yaml.statusCode, 400, yaml.body);
    assert.equal(errorOf(yaml.body).code, 'SPEC_INVALID');
    assert.match(errorOf(yaml.body).message, /YAML/);

    const unknown = await post({ ...gridSpec(w), bogus: 1 });
    assert.equal(unknown.statusCode, 400);
    assert.equal(errorOf(unknown.body).code, 'SPEC_INVALID');
    assert.ok(errorOf(unknown.body).issues?.some((i) => /"bogus"/.test(i.message)));

    const range = await post({ ...gridSpec(w), parallelism: 0 });
    assert.equal(range.statusCode, 400);
    assert.deepEqual(
      errorOf(range.body).issues?.map((i) => i.path),
      ['parallelism'],
    );

    const badParam = await post(gridSpec(w, { search: { parameters: { dropout: [1.5] } } }));
    assert.equal(badParam.statusCode, 400);
    assert.equal(errorOf(badParam.body).issues?.[0]?.path, 'search.parameters.dropout.values[0]');

    const noBucket = await post({
      ...gridSpec(w),
      dataset: 's3://no-such-bucket/d/manifest.jsonl',
    });
    assert.equal(noBucket.statusCode, 400, noBucket.body);
    assert.match(errorOf(noBucket.body).issues?.[0]?.message ?? '', /no-such-bucket/);

    const missing = `s3://${w.bucket}/datasets/nothing/manifest.jsonl`;
    const dataset = await post({ ...gridSpec(w), dataset: missing });
    assert.equal(dataset.statusCode, 400, dataset.body);
    const datasetError = errorOf(dataset.body);
    assert.equal(datasetError.code, 'DATASET_INVALID');
    assert.equal(datasetError.issues?.[0]?.path, 'dataset');
    assert.ok(datasetError.issues?.[0]?.message.includes(missing));

    const badJson = await post('{"dataset": ', 'application/json');
    assert.equal(badJson.statusCode, 400);
    assert.equal(errorOf(badJson.body).code, 'BODY_INVALID');

    const xml = await post('<spec/>', 'application/xml');
    assert.equal(xml.statusCode, 415);
    assert.equal(errorOf(xml.body).code, 'UNSUPPORTED_MEDIA_TYPE');

    const huge = await post({ ...gridSpec(w), name: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(huge.statusCode, 413);
    assert.equal(errorOf(huge.body).code, 'BODY_TOO_LARGE');

    const query = await app.inject({ method: 'GET', url: '/v1/sweeps?limit=0', headers: AUTH });
    assert.equal(query.statusCode, 400);
    assert.equal(errorOf(query.body).code, 'REQUEST_INVALID');
    assert.equal(errorOf(query.body).issues?.[0]?.path, 'limit');

    const noKey = await post(gridSpec(w), 'application/json', {} as typeof AUTH);
    assert.equal(noKey.statusCode, 401);
    assert.equal(errorOf(noKey.body).code, 'UNAUTHORIZED');
    const wrongKey = await post(gridSpec(w), 'application/json', {
      authorization: 'Bearer nope-nope-nope-nope',
    });
    assert.equal(wrongKey.statusCode, 401);
    const get = await app.inject({ method: 'GET', url: '/v1/sweeps' });
    assert.equal(get.statusCode, 401);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /http_request/);

    const health = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.deepEqual(ready.json(), { ready: true, checks: { redis: true, s3: true } });

    const notFound = await app.inject({
      method: 'GET',
      url: '/v1/sweeps/sw-doesnotexist',
      headers: AUTH,
    });
    assert.equal(notFound.statusCode, 404);
    assert.equal(errorOf(notFound.body).code, 'SWEEP_NOT_FOUND');
    const noTrial = await app.inject({
      method: 'GET',
      url: '/v1/trials/sw-doesnotexist.1',
      headers: AUTH,
    });
    assert.equal(errorOf(noTrial.body).code, 'TRIAL_NOT_FOUND');
  } finally {
    await w.close();
  }
});

test('a sweep enqueues grid trials up to parallelism and a worker drives it to completion', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    // YAML text body.
    const yamlSpec = [
      `dataset: ${w.dataset}`,
      'training: { epochs: 1 }',
      'search:',
      '  strategy: grid',
      '  parameters: { dropout: [0.1, 0.2, 0.3], seRatio: [8, 16] }',
      'maxTrials: 4',
      'parallelism: 2',
      'maxFailedTrials: 1',
    ].join('\n');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: { ...AUTH, 'content-type': 'application/yaml' },
      payload: yamlSpec,
    });
    assert.equal(created.statusCode, 201, created.body);
    const sweep = sweepDetailSchema.parse(created.json());
    assert.equal(sweep.status, 'running');
    assert.equal(sweep.plannedTrials, 4);
    assert.deepEqual(
      sweep.trials.map((t) => [t.trialId, t.status, t.params]),
      [
        [`${sweep.id}.1`, 'queued', { dropout: 0.1, seRatio: 8 }],
        [`${sweep.id}.2`, 'queued', { dropout: 0.1, seRatio: 16 }],
      ],
    );
    const waiting = await w.queue.getWaiting();
    assert.deepEqual(waiting.map((j) => j.id).sort(), [`${sweep.id}.1`, `${sweep.id}.2`]);
    const job1 = waiting.find((j) => j.id === `${sweep.id}.1`);
    assert.equal(job1?.data.model.dropout, 0.1);
    assert.equal(job1?.data.model.seRatio, 8);
    assert.equal(job1?.data.artifactsBucket, w.bucket);
    const sweepJson = await getJson<{ status: string }>(
      api.s3.client,
      w.bucket,
      runKeys(sweep.id).sweepJson,
    );
    assert.equal(sweepJson.value.status, 'running');

    // Trial 3 fails (allowed: maxFailedTrials 1); objective = seRatio * dropout, minimised.
    w.worker(async (job) => {
      await sleep(20);
      if (job.data.trialNumber === 3) throw new Error('out of memory (test)');
      const value = Number(job.data.params['seRatio']) * Number(job.data.params['dropout']);
      return finishTrial(w.bucket, job.data, value);
    });
    const done = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.status !== 'running' ? s : undefined;
      },
      { what: 'the sweep to end', timeoutMs: 20_000 },
    );
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.total, 4);
    assert.equal(done.counts.completed, 3);
    assert.equal(done.counts.failed, 1);
    assert.equal(done.trials.find((t) => t.trialNumber === 3)?.reason, 'out of memory (test)');
    assert.deepEqual(done.best, {
      trialId: `${sweep.id}.1`,
      params: { dropout: 0.1, seRatio: 8 },
      objectiveValue: 0.8,
    });
    const jobs = await w.queue.getJobs(['completed', 'failed']);
    assert.equal(jobs.length, 4);
    const finalJson = await waitFor(
      async () => {
        const r = await getJson<{ status: string }>(
          api.s3.client,
          w.bucket,
          runKeys(sweep.id).sweepJson,
        );
        return r.value.status === 'completed' ? r.value : undefined;
      },
      { what: 'the final sweep.json' },
    );
    assert.equal(finalJson.status, 'completed');

    // Listing.
    const list = listSweepsResponseSchema.parse(
      (await app.inject({ method: 'GET', url: '/v1/sweeps?limit=10', headers: AUTH })).json(),
    );
    assert.deepEqual(
      list.sweeps.map((s) => [s.id, s.status]),
      [[sweep.id, 'completed']],
    );

    // Trial detail with epochs (written by workers).
    await w.redis.rpush(
      redisKeys(w.prefix).trialEpochs(`${sweep.id}.1`),
      JSON.stringify({
        epoch: 1,
        loss: 1,
        accuracy: 0.5,
        val_loss: 0.8,
        val_accuracy: 0.5,
        durationMs: 10,
        imagesPerSec: 3,
      }),
    );
    const trial = trialDetailSchema.parse(
      (await app.inject({ method: 'GET', url: `/v1/trials/${sweep.id}.1`, headers: AUTH })).json(),
    );
    assert.equal(trial.status, 'completed');
    assert.equal(trial.epochs.length, 1);
    // Reads after the epoch list changes (TrialDetailMemo keeps the first read's document): each
    // answers what Redis holds, never the kept document.
    const epochsKey = redisKeys(w.prefix).trialEpochs(`${sweep.id}.1`);
    const readEpochs = async () =>
      trialDetailSchema
        .parse(
          (
            await app.inject({ method: 'GET', url: `/v1/trials/${sweep.id}.1`, headers: AUTH })
          ).json(),
        )
        .epochs.map((e) => e.epoch);
    await w.redis.rpush(epochsKey, JSON.stringify({ ...trial.epochs[0], epoch: 2 }));
    assert.deepEqual(await readEpochs(), [1, 2]);
    await w.redis.rpop(epochsKey);
    assert.deepEqual(await readEpochs(), [1]);

    // Best: presigned URLs and a tar stream of trial.json + final/.
    const best = bestTrialResponseSchema.parse(
      (
        await app.inject({ method: 'GET', url: `/v1/sweeps/${sweep.id}/best`, headers: AUTH })
      ).json(),
    );
    assert.equal(best.trialId, `${sweep.id}.1`);
    assert.deepEqual(
      best.artifacts.map((a) => a.key.split('/').pop()),
      ['model.json', 'weights.bin'],
    );
    assert.ok(
      best.artifacts.every((a) => a.uri.startsWith(`s3://${w.bucket}/`) && a.sha256 !== undefined),
    );
    assert.equal(best.weights, 'best');
    assert.equal(best.epoch, 1);
    assert.ok(best.artifacts.every((a) => a.key.includes('/best/')));
    const presigned = await fetch(best.artifacts[1]?.url ?? '');
    const presignedBytes = new Uint8Array(await presigned.arrayBuffer());
    assert.equal(presignedBytes.byteLength, 300);
    assert.equal(presignedBytes[0], 101, 'the best epoch weights');
    const last = bestTrialResponseSchema.parse(
      (
        await app.inject({
          method: 'GET',
          url: `/v1/sweeps/${sweep.id}/best?epoch=last`,
          headers: AUTH,
        })
      ).json(),
    );
    assert.equal(last.weights, 'last');
    assert.equal(last.epoch, 2);
    assert.ok(last.artifacts.every((a) => a.key.includes('/final/')));
    assert.equal(last.trialJson.sha256, best.trialJson.sha256);

    const download = await app.inject({
      method: 'GET',
      url: `/v1/sweeps/${sweep.id}/best/download`,
      headers: AUTH,
      payloadAsStream: true,
    });
    assert.equal(download.statusCode, 200);
    assert.equal(download.headers['content-type'], 'application/x-tar');
    const entries = await tarEntries(download.stream());
    const t1 = `${sweep.id}.1`;
    assert.deepEqual(
      [...entries.keys()],
      [`${t1}/trial.json`, `${t1}/best/model.json`, `${t1}/best/weights.bin`],
    );
    assert.equal(entries.get(`${t1}/best/weights.bin`)?.length, 300);
    assert.equal(entries.get(`${t1}/best/weights.bin`)?.[0], 101);
    const trialJson = JSON.parse(
      entries.get(`${t1}/trial.json`)?.toString() ?? '{}',
    ) as TrialRecord;
    assert.equal(trialJson.trialId, t1);

    // Cancelling an ended sweep is a conflict.
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/sweeps/${sweep.id}/cancel`,
      headers: AUTH,
    });
    assert.equal(cancel.statusCode, 409, cancel.body);
    assert.equal(errorOf(cancel.body).code, 'SWEEP_FINISHED');
  } finally {
    await w.close();
  }
});

test('too many failed trials fail the sweep; /best answers 409 without a finished trial', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { maxFailedTrials: 0, parallelism: 1 }));
    const noBest = await app.inject({
      method: 'GET',
      url: `/v1/sweeps/${sweep.id}/best`,
      headers: AUTH,
    });
    assert.equal(noBest.statusCode, 409);
    assert.equal(errorOf(noBest.body).code, 'NO_BEST_TRIAL');
    w.worker(() => Promise.reject(new Error('loss diverged to NaN at epoch 1')));
    const done = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.status !== 'running' ? s : undefined;
      },
      { what: 'the sweep to fail', timeoutMs: 20_000 },
    );
    assert.equal(done.status, 'failed');
    assert.equal(done.counts.diverged, 1);
    assert.equal(done.counts.total, 1);
  } finally {
    await w.close();
  }
});

test('a restarted controller finishes a sweep in flight with exactly maxTrials trials, re-adding a lost job', async () => {
  const w = await api.world();
  try {
    const first = await w.app();
    const sweep = await createSweep(first, gridSpec(w));
    await first.close();
    // As if the controller had crashed between saving trial 2 and adding its job: no job.
    await w.queue.remove(`${sweep.id}.2`);
    // With no controller running, a worker finishes trial 1.
    w.worker(async (job) => finishTrial(w.bucket, job.data, job.data.trialNumber));
    await waitFor(async () => (await w.queue.getCompletedCount()) === 1, {
      what: 'trial 1 completed',
    });
    // Two replicas now advance the same sweep at once.
    const second = await w.app();
    await w.app();
    const done = await waitFor(
      async () => {
        const s = await getSweep(second, sweep.id);
        return s.status !== 'running' ? s : undefined;
      },
      { what: 'the sweep to end after the restart', timeoutMs: 20_000 },
    );
    assert.equal(done.status, 'completed', JSON.stringify(done.trials));
    assert.deepEqual(
      done.trials.map((t) => [t.trialNumber, t.status]),
      [
        [1, 'completed'],
        [2, 'completed'],
        [3, 'completed'],
        [4, 'completed'],
      ],
      JSON.stringify(done.trials),
    );
    assert.equal((await w.queue.getJobs(['completed', 'failed', 'waiting', 'active'])).length, 4);
    assert.equal(done.best?.trialId, `${sweep.id}.1`);
  } finally {
    await w.close();
  }
});

test('cancel removes queued trials and tells workers to stop running ones', async () => {
  const w = await api.world();
  const subscriber = new Redis(api.redisServer.url);
  try {
    const app = await w.app();
    const channel = redisKeys(w.prefix).controlChannel;
    await subscriber.subscribe(channel);
    const messages: unknown[] = [];
    let release: (reason: string) => void = () => undefined;
    const cancelled = new Promise<string>((resolve) => (release = resolve));
    subscriber.on('message', (_channel, text) => {
      const message = controlMessageSchema.parse(JSON.parse(text));
      messages.push(message);
      release(message.reason);
    });
    const sweep = await createSweep(app, gridSpec(w, { parallelism: 2 }));
    // The worker holds trial 1 until the cancel message arrives; trial 2 stays waiting.
    w.worker(async () => {
      const reason = await cancelled;
      throw new Error(`cancelled: ${reason}`);
    });
    await waitFor(async () => (await w.queue.getActiveCount()) === 1, { what: 'trial 1 to start' });
    const response = await app.inject({
      method: 'POST',
      url: `/v1/sweeps/${sweep.id}/cancel`,
      headers: AUTH,
      payload: { reason: 'enough' },
    });
    assert.equal(response.statusCode, 200, response.body);
    const after = sweepDetailSchema.parse(response.json());
    assert.equal(after.status, 'cancelled');
    assert.equal(after.trials.find((t) => t.trialNumber === 2)?.status, 'cancelled');
    assert.equal(await w.queue.getWaitingCount(), 0);
    const done = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.counts.cancelled === 2 ? s : undefined;
      },
      { what: 'both trials cancelled' },
    );
    assert.equal(done.counts.total, 2);
    // The reconcile loop re-publishes the cancel while trial 1 still runs: the same message.
    assert.ok(messages.length >= 1);
    for (const message of messages) {
      assert.deepEqual(message, { type: 'cancel', trialIds: [`${sweep.id}.1`], reason: 'enough' });
    }
  } finally {
    subscriber.disconnect();
    await w.close();
  }
});

test('a job is a one-trial sweep; /docs/json lists the routes', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: AUTH,
      payload: { dataset: w.dataset, training: { epochs: 2, learningRate: 0.01 } },
    });
    assert.equal(response.statusCode, 201, response.body);
    const job = sweepDetailSchema.parse(response.json());
    assert.equal(job.kind, 'job');
    assert.match(job.id, /^job-/);
    assert.equal(job.plannedTrials, 1);
    const [queued] = await w.queue.getWaiting();
    assert.equal(queued?.id, `${job.id}.1`);
    assert.equal(queued?.data.training.learningRate, 0.01);

    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(docs.statusCode, 200);
    const document = docs.json<{
      paths: Record<string, { post?: { requestBody?: { content?: Record<string, unknown> } } }>;
    }>();
    assert.ok(
      JSON.stringify(document.paths['/v1/sweeps']?.post?.requestBody).includes('maxFailedTrials'),
      'the sweep body schema is documented',
    );
    // Every route the API serves to clients, with its method: a route left out of the document is
    // one users of generated clients cannot call.
    const documented = docs.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    for (const [method, path] of [
      ['post', '/v1/sweeps'],
      ['get', '/v1/sweeps'],
      ['post', '/v1/sweeps/preview'],
      ['get', '/v1/sweeps/{id}'],
      ['patch', '/v1/sweeps/{id}'],
      ['post', '/v1/sweeps/{id}/cancel'],
      ['post', '/v1/sweeps/{id}/pause'],
      ['post', '/v1/sweeps/{id}/resume'],
      ['get', '/v1/sweeps/{id}/best'],
      ['get', '/v1/sweeps/{id}/best/download'],
      ['get', '/v1/sweeps/{id}/events'],
      ['get', '/v1/sweeps/{id}/webhooks'],
      ['post', '/v1/jobs'],
      ['get', '/v1/trials/{id}'],
      ['get', '/v1/trials/{id}/artifacts'],
      ['get', '/v1/trials/{id}/artifacts/download'],
      ['get', '/healthz'],
      ['get', '/readyz'],
    ] as const) {
      assert.ok(
        documented[path]?.[method] !== undefined,
        `${method.toUpperCase()} ${path} missing from ${Object.keys(documented).sort().join(', ')}`,
      );
    }
  } finally {
    await w.close();
  }
});

test('a cancel is recorded and answered while another replica holds the lock; reconcile keeps stopping the trial', async () => {
  const w = await api.world();
  const subscriber = new Redis(api.redisServer.url);
  try {
    const app = await w.app();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    // A worker that ignores cancel messages (as one whose subscriber was reconnecting would).
    w.worker(async () => {
      await released;
      throw new Error('trial cancelled');
    });
    const sweep = await createSweep(app, gridSpec(w));
    const [first, second] = [trialIdOf(sweep.id, 1), trialIdOf(sweep.id, 2)];
    await waitFor(async () => (await getSweep(app, sweep.id)).trials[0]?.status === 'running', {
      what: 'trial 1 to run',
      timeoutMs: 10_000,
    });
    const cancels: string[][] = [];
    const keys = redisKeys(w.prefix);
    await subscriber.subscribe(keys.controlChannel);
    subscriber.on('message', (_channel, raw: string) => {
      const message = controlMessageSchema.parse(JSON.parse(raw));
      cancels.push(message.trialIds);
    });

    // Another replica holds the sweep's lock for a minute (paused or partitioned).
    await w.redis.set(keys.sweepLock(sweep.id), 'other-replica', 'PX', 60_000);
    const started = Date.now();
    const response = await app.inject({
      method: 'POST',
      url: `/v1/sweeps/${sweep.id}/cancel`,
      headers: AUTH,
      payload: { reason: 'stop it' },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.ok(Date.now() - started < 8000, 'the cancel does not wait for the lock');
    const answer = cancelSweepResponseSchema.parse(response.json());
    assert.equal(answer.cancel.state, 'queued');
    assert.deepEqual(answer.cancel.stoppedTrials, [first]);
    assert.deepEqual(answer.cancel.removedTrials, [second]);
    const stop = await w.redis.hget(keys.sweepStops(sweep.id), SWEEP_STOP_FIELD);
    assert.equal(stopRequestSchema.parse(JSON.parse(stop ?? 'null')).kind, 'cancel');
    assert.deepEqual(cancels[0], [first]);

    // The lock frees: the recorded cancel becomes the sweep's state without another request.
    await w.redis.del(keys.sweepLock(sweep.id));
    const cancelled = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.status === 'cancelled' ? s : undefined;
      },
      { what: 'the sweep to turn cancelled', timeoutMs: 10_000 },
    );
    assert.equal(cancelled.reason, 'stop it');
    // The worker missed the message: every reconcile pass re-publishes the stop.
    await waitFor(() => cancels.filter((ids) => ids.includes(first)).length >= 3, {
      what: 'the cancel of trial 1 to be re-published',
      timeoutMs: 10_000,
    });
    release();
    const ended = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.trials.every((t) => t.status === 'cancelled') ? s : undefined;
      },
      { what: 'every trial to end cancelled', timeoutMs: 10_000 },
    );
    assert.equal(ended.trials.length, 2);
  } finally {
    subscriber.disconnect();
    await w.close();
  }
});

test('the sweep lock is renewed while held, and a stale writer is fenced off', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { parallelism: 1 }));
    const store = new SweepStore(w.redis, w.prefix);

    // Renewed: held three TTLs, nobody else gets it.
    const lock = new SweepLock({ store, logger: SILENT, ttlMs: 300 });
    const other = `${sweep.id}-other`;
    const held = await lock.withLock(other, 0, async () => {
      await sleep(1000);
      return store.acquireLock(other, 300);
    });
    assert.equal(held, undefined, 'the lock expired while held');
    const token = await store.acquireLock(other, 300);
    assert.ok(token !== undefined, 'released afterwards');
    // A pass's first reads ride with the lock's SET: dropped, and no pass, while another holds it.
    let passes = 0;
    const pass = (reads: PassReads): Promise<PassReads> => {
      passes += 1;
      return Promise.resolve(reads);
    };
    assert.equal(await lock.withLockAndReads(other, 0, [`${other}.1`], pass), undefined);
    assert.equal(passes, 0);
    await store.releaseLock(other, token);
    const reads = await lock.withLockAndReads(other, 0, [`${other}.1`], pass);
    assert.deepEqual(reads, {
      record: undefined,
      stop: undefined,
      trials: { trialIds: [`${other}.1`], fresh: { total: 0, trials: [undefined] } },
    });
    const sweepReads = await lock.withLockAndReads(sweep.id, 5000, undefined, pass);
    assert.deepEqual(sweepReads?.record?.id, sweep.id);
    assert.equal(sweepReads?.trials, undefined);

    // Fenced: a replica that read the record before a newer write cannot overwrite it.
    const stale = await store.getSweep(sweep.id);
    assert.ok(stale !== undefined);
    const newer = await store.putSweep({ ...stale, status: 'paused' });
    assert.equal(newer.version, stale.version + 1);
    await assert.rejects(store.putSweep({ ...stale, status: 'running' }), StaleSweepWriteError);
    assert.equal((await store.getSweep(sweep.id))?.status, 'paused');

    // A new trial is stored with its record or not at all: fenced like putSweep, never overwritten.
    const [first] = await store.getTrials(sweep.id);
    assert.ok(first !== undefined);
    const extra = { ...first, trialId: trialIdOf(sweep.id, 99), trialNumber: 99 };
    await assert.rejects(store.createTrial(stale, extra), StaleSweepWriteError);
    assert.equal(
      await store.getTrial(sweep.id, extra.trialId),
      undefined,
      'no trial without its record',
    );
    assert.equal(await store.createTrial(newer, first), 'exists');
    assert.equal(
      (await store.getSweep(sweep.id))?.version,
      newer.version,
      'no record without its trial',
    );
    const counted = await store.createTrial(newer, extra);
    assert.ok(counted !== 'exists');
    assert.equal(counted.version, newer.version + 1);
    assert.deepEqual(await store.getTrial(sweep.id, extra.trialId), extra);
  } finally {
    await w.close();
  }
});

test('a sweep in which every trial failed ends failed with the reason, not completed', async () => {
  const w = await api.world();
  try {
    const app = await w.app();
    w.worker(() => Promise.reject(new Error('sha256 mismatch in images/1.png')));
    const sweep = await createSweep(app, gridSpec(w, { maxTrials: 2, maxFailedTrials: 5 }));
    const ended = await waitFor(
      async () => {
        const s = await getSweep(app, sweep.id);
        return s.status !== 'running' ? s : undefined;
      },
      { what: 'the sweep to end', timeoutMs: 20_000 },
    );
    assert.equal(ended.status, 'failed');
    assert.equal(ended.reason, 'no trial succeeded: 2 failed');
    assert.equal(ended.best, null);
  } finally {
    await w.close();
  }
});

test('a trial whose worker died shows stalled, one given back shows requeued, then running again', async () => {
  const w = await api.world();
  const connection = new Redis(api.redisServer.url, { maxRetriesPerRequest: null });
  // Workers fetching jobs by hand: one that dies holding its job, one that checks for stalls.
  const manual = (lockDuration: number) =>
    new Worker(TRIALS_QUEUE, null, { connection, prefix: w.prefix, lockDuration, autorun: false });
  const dying = manual(500);
  const checker = new Worker(TRIALS_QUEUE, null, {
    connection,
    prefix: w.prefix,
    stalledInterval: 300,
    maxStalledCount: 5,
    autorun: false,
  });
  try {
    const app = await w.app();
    const sweep = await createSweep(app, gridSpec(w, { maxTrials: 1, parallelism: 1 }));
    const trialStatus = async () => (await getSweep(app, sweep.id)).trials[0];
    const until = (status: string) =>
      waitFor(async () => ((await trialStatus())?.status === status ? trialStatus() : undefined), {
        what: `the trial to be ${status}`,
        timeoutMs: 10_000,
      });

    assert.ok(await dying.getNextJob('dying-token'));
    await until('running');
    await dying.close(true); // its lock is never extended again: the job stalls
    await checker.startStalledCheckTimer();
    const stalled = await until('stalled');
    assert.match(
      stalled?.reason ?? '',
      /^its worker stopped answering \(job stalled 1 time\(s\)\)/,
    );

    const job = await checker.getNextJob('second-token');
    assert.ok(job);
    const running = await until('running');
    assert.equal(running?.reason, undefined);
    await job.moveToWait('second-token'); // given back (shutdown) without using an attempt
    const requeued = await until('requeued');
    assert.match(requeued?.reason ?? '', /waiting for another worker/);

    const again = await checker.getNextJob('third-token');
    assert.ok(again);
    await until('running');
    await again.moveToFailed(new Error('trial cancelled by the test'), 'third-token');
    await until('cancelled');
  } finally {
    await checker.close(true);
    await dying.close(true);
    connection.disconnect();
    await w.close();
  }
});
