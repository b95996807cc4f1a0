// Smarter sweeps end to end: a real redis-server, s3rver, the API process and a real worker
// process training SE-Inception v3 at 75x75 on the wasm engine on a few generated images. An ASHA
// sweep stops a configuration that learns nothing (learning rate 1e-7) at its rung, with the reason
// on the trial, its final weights and trial.json written; the API is killed mid-sweep and a new
// one finishes the sweep with exactly maxTrials trials.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  runKeys,
  sweepDetailSchema,
  trialRecordSchema,
  type SweepDetail,
  type SweepSpecInput,
} from '@setrain/protocol';
import { getJson, listObjects } from '@setrain/storage';

import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import {
  API_MAIN,
  s3EnvOf,
  startNodeService,
  waitFor,
  type ServiceProcess,
} from './harness/index.js';
import { startLocalStack, type LocalStack } from './stack/local-stack.js';
import { stackApi } from './stack/stack-api.js';

/** Generous: two trials of 2-3 epochs on 2 shared cores, process starts included. */
const SWEEP_TIMEOUT_MS = 240_000;

let stack: LocalStack;
const extraServices: ServiceProcess[] = [];

before(async () => {
  stack = await startLocalStack({
    workers: 1,
    engine: 'wasm',
    apiEnv: { SETRAIN_RECONCILE_INTERVAL_MS: '500' },
  });
});
after(async () => {
  for (const service of extraServices) await service.stop().catch(() => undefined);
  await stack?.stop();
});

function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return stackApi<T>(stack, method, path, body);
}

async function getSweep(id: string): Promise<SweepDetail | undefined> {
  try {
    return sweepDetailSchema.parse(await api('GET', `/v1/sweeps/${id}`));
  } catch {
    return undefined; // the API is restarting
  }
}

/** Starts another API process on the stack's port, configured as the first one. */
function startApiAgain(): ServiceProcess {
  const port = new URL(stack.apiUrl).port;
  const env = {
    ...s3EnvOf(stack.s3),
    PORT: port,
    HOST: '127.0.0.1',
    REDIS_URL: stack.redisUrl,
    SETRAIN_KEY_PREFIX: stack.keyPrefix,
    SETRAIN_API_KEYS: stack.apiKey,
    SETRAIN_ARTIFACTS_BUCKET: stack.bucket,
    SETRAIN_RECONCILE_INTERVAL_MS: '500',
    LOG_LEVEL: 'warn',
  };
  const service = startNodeService('setrain-api-2', API_MAIN, env);
  extraServices.push(service);
  return service;
}

test('ASHA stops a configuration that learns nothing; a restarted API finishes the sweep with exactly maxTrials trials', async (t) => {
  const data = await uploadShapesDataset(stack.s3.client, stack.bucket, 'datasets/shapes', {
    count: 12,
    seed: 5,
  });
  const spec: SweepSpecInput = {
    name: 'asha e2e',
    dataset: data.manifestUri,
    // No dropout and no augmentation: the training loss then moves only with the weights, so
    // the comparison at the rung is between learning and not learning, not between noise draws.
    model: { inputSize: 75, seRatio: 16, dropout: 0 },
    training: {
      epochs: 3,
      batchSize: 3,
      optimizer: 'adam',
      validationSplit: 0.25,
      augmentation: { flip: false, crop: false },
      seed: 11,
    },
    // Trial 1 learns (Adam 1e-3); trial 2 barely moves its weights (1e-7).
    search: { strategy: 'grid', parameters: { learningRate: [0.001, 1e-7] } },
    // Training loss: on 3 validation images the validation loss says little after a few steps.
    objective: { metric: 'loss', goal: 'minimize' },
    // One rung, at epoch 2 (2 * 2^1 = 4 is past the 3-epoch budget): 6 steps in.
    earlyStopping: { type: 'asha', minEpochs: 2, reductionFactor: 2 },
    maxTrials: 2,
    parallelism: 1,
  };
  const created = sweepDetailSchema.parse(await api('POST', '/v1/sweeps', spec));
  assert.equal(created.trials.length, 1);

  // Kill the API (no graceful shutdown) once trial 1 has trained an epoch; start another one.
  await waitFor(async () => ((await getSweep(created.id))?.trials[0]?.epochsCompleted ?? 0) >= 1, {
    what: 'trial 1 to finish an epoch',
    timeoutMs: SWEEP_TIMEOUT_MS,
    intervalMs: 500,
  });
  process.kill(-stack.api.pid, 'SIGKILL');
  // Polled: the harness does not keep the event loop alive for a service's exit.
  await waitFor(() => Promise.resolve(stack.api.exit() !== undefined), {
    what: 'the first API to die',
  });
  const second = startApiAgain();
  await waitFor(async () => (await fetch(`${stack.apiUrl}/readyz`).catch(() => undefined))?.ok, {
    what: 'the second API to be ready',
    timeoutMs: 60_000,
  });

  const done = await waitFor(
    async () => {
      const sweep = await getSweep(created.id);
      return sweep !== undefined && sweep.status !== 'running' ? sweep : undefined;
    },
    { what: 'the sweep to end', timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 1000 },
  ).catch((error: unknown) => {
    throw new Error(
      `${String(error)}\nworker output:\n${stack.workers[0]?.output() ?? ''}\napi output:\n${second.output()}`,
    );
  });
  const summary = JSON.stringify(done.trials, null, 1);
  for (const trial of done.trials) {
    const detail = await api<{ epochs: { epoch: number; loss: number; durationMs: number }[] }>(
      'GET',
      `/v1/trials/${trial.trialId}`,
    );
    t.diagnostic(
      `trial ${trial.trialNumber} lr ${trial.params['learningRate']}: ${trial.status}` +
        ` ${trial.reason ?? ''}; loss per epoch ${detail.epochs.map((e) => e.loss.toFixed(4)).join(', ')};` +
        ` epoch seconds ${detail.epochs.map((e) => (e.durationMs / 1000).toFixed(1)).join(', ')}`,
    );
  }
  assert.equal(done.status, 'completed', summary);
  assert.deepEqual(
    done.trials.map((t) => [t.trialNumber, t.params['learningRate'], t.status]),
    [
      [1, 0.001, 'completed'],
      [2, 1e-7, 'early-stopped'],
    ],
    summary,
  );
  const [good, bad] = done.trials;
  assert.equal(good?.epochsCompleted, 3);
  assert.equal(bad?.epochsCompleted, 2, 'stopped at its rung, not trained further');
  assert.match(bad?.reason ?? '', /^early-stopped: asha rung 0 \(epoch 2\), \S+ worse than cutoff/);
  // Early-stopped is a result: it counts for best, and its trial.json and final weights exist.
  assert.equal(done.best?.trialId, good?.trialId);
  const keys = runKeys(done.id).trial(bad?.trialId ?? '');
  const record = trialRecordSchema.parse(
    (await getJson(stack.s3.client, stack.bucket, keys.trialJson)).value,
  );
  assert.equal(record.status, 'early-stopped');
  assert.equal(record.reason, bad?.reason);
  assert.equal(record.epochs.length, 2);
  assert.ok(record.artifacts.length > 0);
  const finals: string[] = [];
  for await (const object of listObjects(stack.s3.client, stack.bucket, keys.final)) {
    finals.push(object.key.slice(keys.final.length));
  }
  assert.ok(finals.includes('model.json') && finals.includes('weights.bin'), finals.join(', '));
});
