/**
 * Finished sweeps are archived to S3 and their Redis keys expire after the configured retention;
 * the read routes then answer from the archive. Real redis-server and s3rver, a hand-driven worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  bestTrialResponseSchema,
  listSweepsResponseSchema,
  redisKeys,
  runKeys,
  sweepDetailSchema,
  trialDetailSchema,
} from '@setrain/protocol';
import { getJson, listKeys } from '@setrain/storage';

import { useApiTestFile, writeFinishedTrial } from './api-world.js';
import { waitFor } from './harness/index.js';

const api = useApiTestFile({
  label: 'archive',
  apiKey: 'archive-key-0123456789abcdef',
  appDeps: { sweepRetentionSeconds: 1 },
  sharedWorld: true,
});

test('an archived sweep still answers GET after its Redis keys expired', async () => {
  const app = await api.sharedWorld.app();
  api.sharedWorld.worker(async (job) => {
    await api.sharedWorld.redis.rpush(
      redisKeys(api.sharedWorld.prefix).trialEpochs(job.data.trialId),
      JSON.stringify({
        epoch: 1,
        loss: 1,
        accuracy: 0.5,
        val_loss: 0.7,
        val_accuracy: 0.5,
        durationMs: 5,
        imagesPerSec: 2,
      }),
    );
    return writeFinishedTrial(
      api.s3.client,
      api.sharedWorld.bucket,
      job.data,
      0.7 + job.data.trialNumber / 10,
    );
  });
  const { id: sweepId } = await api.createSweep(app, {
    dataset: api.sharedWorld.dataset,
    training: { epochs: 1 },
    search: { strategy: 'grid', parameters: { dropout: [0.1, 0.2] } },
    objective: { metric: 'val_loss', goal: 'minimize' },
    parallelism: 2,
    retention: { trials: 'best-k', k: 1 },
  });
  const keys = redisKeys(api.sharedWorld.prefix);
  const get = (url: string) => api.request(app, 'GET', url);
  const live = await waitFor(
    async () => {
      const detail = sweepDetailSchema.parse((await get(`/v1/sweeps/${sweepId}`)).json());
      return detail.status === 'completed' ? detail : undefined;
    },
    { what: 'the sweep to complete', timeoutMs: 30_000, intervalMs: 100 },
  );
  const archive = await waitFor(
    async () =>
      getJson<{ sweep: { id: string }; epochs: Record<string, unknown[]> }>(
        api.s3.client,
        api.sharedWorld.bucket,
        runKeys(sweepId).archiveJson,
      )
        .then((o) => o.value)
        .catch(() => undefined),
    { what: 'archive.json', timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.equal(archive.sweep.id, sweepId);
  // Every trial's epochs, read in one round trip.
  assert.deepEqual(
    Object.entries(archive.epochs).map(([trialId, epochs]) => [trialId, epochs.length]),
    [
      [`${sweepId}.1`, 1],
      [`${sweepId}.2`, 1],
    ],
  );
  // retention best-k (k 1): trial 2 (worse val_loss) lost its weights, kept its trial.json.
  const trial2 = runKeys(sweepId).trial(`${sweepId}.2`);
  assert.deepEqual(
    (await listKeys(api.s3.client, api.sharedWorld.bucket, trial2.prefix)).map((k) =>
      k.slice(trial2.prefix.length),
    ),
    ['trial.json'],
  );
  const trial1 = runKeys(sweepId).trial(`${sweepId}.1`);
  assert.equal((await listKeys(api.s3.client, api.sharedWorld.bucket, trial1.best)).length, 3); // + the stray
  await waitFor(
    async () =>
      (await api.sharedWorld.redis.exists(
        keys.sweep(sweepId),
        keys.sweepTrials(sweepId),
        keys.trialEpochs(`${sweepId}.1`),
      )) === 0 || undefined,
    { what: "the sweep's Redis keys to expire", timeoutMs: 30_000, intervalMs: 200 },
  );

  const detail = await get(`/v1/sweeps/${sweepId}`);
  assert.equal(detail.statusCode, 200, detail.body);
  const archived = sweepDetailSchema.parse(detail.json());
  assert.deepEqual(archived, live);

  const trial = await get(`/v1/trials/${sweepId}.1`);
  assert.equal(trial.statusCode, 200, trial.body);
  const trialDetail = trialDetailSchema.parse(trial.json());
  assert.equal(trialDetail.status, 'completed');
  assert.equal(trialDetail.epochs.length, 1);
  assert.equal((await get(`/v1/trials/${sweepId}.9`)).statusCode, 404);

  const best = await get(`/v1/sweeps/${sweepId}/best`);
  assert.equal(best.statusCode, 200, best.body);
  assert.equal(bestTrialResponseSchema.parse(best.json()).trialId, live.best?.trialId);

  const list = listSweepsResponseSchema.parse((await get('/v1/sweeps')).json());
  assert.deepEqual(
    list.sweeps.map((s) => s.id),
    [sweepId],
  );
  assert.equal((await get('/v1/sweeps/sw-0000000000')).statusCode, 404);
});
