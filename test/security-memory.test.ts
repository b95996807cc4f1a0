// The memory budget per trial against a real API (buildApp on real redis-server and s3rver,
// listening on 127.0.0.1): a spec whose trials, or whose search space, can reach more estimated
// memory than SETRAIN_MAX_TRIAL_MEMORY_BYTES answers 400 TRIAL_MEMORY_EXCEEDED naming the fields,
// fast, with /healthz answering meanwhile; specs inside the budget are accepted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { estimateTrialMemory } from '@setrain/protocol';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, type RedisServer, type S3Server } from './harness/index.js';
import { errorOf, listen, sendWhileProbing } from './security-probe.js';

const API_KEY = 'security-memory-key-0123456789';
/** 2 GiB: the default trial (299 px, batch 16, about 6 GiB) is over it, a 75-pixel one is not. */
const BUDGET = 2 * 2 ** 30;

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let base: string;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  world = await createApiWorld({
    redisServer,
    s3,
    label: 'security-memory',
    apiKeys: [API_KEY],
    appDeps: { maxTrialMemoryBytes: BUDGET },
  });
  base = await listen(await world.app());
});
after(async () => {
  await world.close();
  await Promise.all([redisServer.stop(), s3.stop()]);
});

function submit(path: string, spec: object) {
  return sendWhileProbing(base, path, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
}

/** `routes`: where the spec is sent (jobs have no search space). */
const OVER_BUDGET: readonly {
  name: string;
  spec: () => object;
  paths: string[];
  routes: string[];
}[] = [
  {
    name: 'inputSize 1024 x batchSize 4096 (48 GiB of pixels per batch)',
    spec: () => ({
      dataset: world.dataset,
      model: { inputSize: 1024 },
      training: { batchSize: 4096 },
    }),
    paths: ['model.inputSize', 'training.batchSize'],
    routes: ['/v1/sweeps', '/v1/jobs'],
  },
  {
    name: 'the defaults (299 px, batch 16) over a 2 GiB budget',
    spec: () => ({ dataset: world.dataset }),
    paths: ['model.inputSize', 'training.batchSize'],
    routes: ['/v1/sweeps', '/v1/jobs'],
  },
  {
    name: 'a search space whose largest batch is over it',
    spec: () => ({
      dataset: world.dataset,
      model: { inputSize: 75 },
      search: {
        strategy: 'random',
        parameters: { batchSize: { type: 'int_uniform', min: 2, max: 4096 } },
      },
    }),
    paths: ['model.inputSize', 'search.parameters.batchSize'],
    routes: ['/v1/sweeps', '/v1/sweeps/preview'],
  },
  {
    name: 'a grid whose largest input is over it',
    spec: () => ({
      dataset: world.dataset,
      training: { batchSize: 4 },
      search: { parameters: { inputSize: [75, 1024] } },
    }),
    paths: ['search.parameters.inputSize', 'training.batchSize'],
    routes: ['/v1/sweeps'],
  },
];

for (const { name, spec, paths, routes } of OVER_BUDGET) {
  for (const path of routes) {
    test(`${name} to ${path} answers 400 TRIAL_MEMORY_EXCEEDED naming ${paths.join(', ')}`, async () => {
      const answer = await submit(path, spec());
      assert.equal(answer.status, 400, answer.body);
      const error = errorOf(answer.body);
      assert.equal(error.code, 'TRIAL_MEMORY_EXCEEDED');
      assert.match(error.message, /SETRAIN_MAX_TRIAL_MEMORY_BYTES/);
      assert.match(error.message, new RegExp(`${BUDGET}-byte budget`));
      assert.deepEqual(
        error.issues?.map((issue) => issue.path),
        paths,
      );
      assert.ok(answer.ms < 1000, `answered in ${answer.ms.toFixed(0)} ms`);
      assert.ok(answer.slowestHealthz < 1000, `/healthz waited ${answer.slowestHealthz} ms`);
    });
  }
}

test('specs inside the budget are accepted; the estimate grows with inputSize x batchSize', async () => {
  const small = { dataset: world.dataset, model: { inputSize: 75 }, training: { batchSize: 8 } };
  assert.ok(estimateTrialMemory({ inputSize: 75, batchSize: 8 }).totalBytes < BUDGET);
  const accepted = await submit('/v1/sweeps', {
    ...small,
    search: { parameters: { batchSize: [2, 8], inputSize: [75, 107] } },
  });
  assert.equal(accepted.status, 201, accepted.body);
  assert.equal((await submit('/v1/jobs', small)).status, 201);
  assert.ok(
    estimateTrialMemory({ inputSize: 150, batchSize: 16 }).totalBytes >
      estimateTrialMemory({ inputSize: 75, batchSize: 16 }).totalBytes,
  );
});
