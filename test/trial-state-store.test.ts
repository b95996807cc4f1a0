// TrialStateStore.update against a real redis-server: a patch field set to undefined is removed
// from the stored state (e.g. the reason of an earlier failure), every other field is kept, and
// what update returns is what a later read parses from Redis. The store compares against the JSON
// it last saw: another writer's state in between is merged into, never overwritten, and an update
// nobody raced is one command.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { redisKeys, trialPayloadSchema, type TrialPayload } from '@setrain/protocol';
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

function payloadOf(sweepId: string): TrialPayload {
  return trialPayloadSchema.parse({
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
}

/** Calls of `command` the server has run (INFO commandstats). */
async function calls(command: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

test('a patch field set to undefined is removed; the rest of the state is kept', async () => {
  const prefix = `{${uniqueName('trial-state')}}`;
  const store = new TrialStateStore(redis, prefix);
  const sweepId = uniqueName('sw-state');
  const payload = payloadOf(sweepId);
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

test('another writer in between is merged into, not overwritten; an unraced update is one command', async () => {
  const prefix = `{${uniqueName('trial-state')}}`;
  const store = new TrialStateStore(redis, prefix);
  const sweepId = uniqueName('sw-state');
  const payload = payloadOf(sweepId);
  const key = redisKeys(prefix).sweepTrials(sweepId);
  await store.update(payload, { status: 'running', workerId: 'worker-1' });
  // The controller writes the trial (e.g. the job's stall count) after the store's last write.
  const stored = JSON.parse((await redis.hget(key, payload.trialId)) ?? '{}') as object;
  const theirs = { ...stored, jobStalls: 2 };
  await redis.hset(key, payload.trialId, JSON.stringify(theirs));
  const merged = await store.update(payload, { epochsCompleted: 1 });
  assert.equal(merged.jobStalls, 2, "the other writer's field survives");
  assert.equal(merged.epochsCompleted, 1);
  assert.deepEqual(JSON.parse((await redis.hget(key, payload.trialId)) ?? 'null'), merged);
  // Nobody wrote since: the update compares against what the store wrote, with no read first.
  const [hgetBefore, evalBefore] = [await calls('hget'), await calls('eval')];
  const next = await store.update(payload, { epochsCompleted: 2 });
  assert.equal(await calls('hget'), hgetBefore + 1, 'one HGET: the one inside the script');
  assert.equal(await calls('eval'), evalBefore + 1);
  assert.deepEqual(JSON.parse((await redis.hget(key, payload.trialId)) ?? 'null'), next);
  assert.equal(next.jobStalls, 2);
});
