// TrialStateStore.update against a real redis-server: a patch field set to undefined is removed
// from the stored state (e.g. the reason of an earlier failure), every other field is kept, and
// what update returns is what a later read parses from Redis.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { redisKeys, trialPayloadSchema } from '@setrain/protocol';
import { TrialStateStore } from '@setrain/worker';
import { Redis } from 'ioredis';

import { startRedis, uniqueName, type RedisServer } from './harness/index.js';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('a patch field set to undefined is removed; the rest of the state is kept', async () => {
  const prefix = `{${uniqueName('trial-state')}}`;
  const store = new TrialStateStore(redis, prefix);
  const sweepId = uniqueName('sw-state');
  const payload = trialPayloadSchema.parse({
    sweepId,
    trialId: `${sweepId}.1`,
    trialNumber: 1,
    dataset: 's3://bucket/datasets/none/manifest.jsonl',
    model: { inputSize: 75 },
    training: { epochs: 2, batchSize: 2, seed: 1 },
    objective: { metric: 'val_loss', goal: 'minimize' },
    params: { dropout: 0.2 },
    artifactsBucket: 'bucket',
  });
  await store.update(payload, {
    status: 'failed',
    reason: 'the worker ran out of memory',
    workerId: 'worker-1',
    epochsCompleted: 1,
  });
  const next = await store.update(payload, {
    status: 'queued',
    reason: undefined,
    workerId: undefined,
  });
  assert.deepEqual(next, {
    trialId: payload.trialId,
    trialNumber: 1,
    status: 'queued',
    params: { dropout: 0.2 },
    epochsCompleted: 1,
    objectiveValue: null,
    attempts: 0,
  });
  const stored = await redis.hget(redisKeys(prefix).sweepTrials(sweepId), payload.trialId);
  assert.deepEqual(JSON.parse(stored ?? 'null'), next);
  assert.deepEqual(await store.get(sweepId, payload.trialId), next);
});
