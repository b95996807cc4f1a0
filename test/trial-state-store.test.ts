// TrialStateStore.update against a real redis-server: a patch field set to undefined is removed
// from the stored state (e.g. the reason of an earlier failure), every other field is kept, and
// what update returns is what a later read parses from Redis. The store compares against the JSON
// it last saw: another writer's state in between is merged into, never overwritten, and an update
// nobody raced is one command. What a worker sends when a trial's trainer reports it started: a
// first start (no epochs, no checkpoints) leaves the state as the attempt's start wrote it and sends
// nothing (one trial-state write per trial start, not two, and no DEL of an epoch list nobody
// wrote); a resume, or a start after an earlier attempt, still resets the epoch list and records
// its progress.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  redisKeys,
  trialPayloadSchema,
  type EpochMetrics,
  type TrialPayload,
  type TrialState,
} from '@setrain/protocol';
import {
  createLogger,
  TrialStateStore,
  trialListeners,
  type TrialProcessListeners,
  type TrialProgress,
  type TrialStarted,
} from '@setrain/worker';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import { startRedis, uniqueName, type RedisServer } from './harness/index.js';

let server: RedisServer;
let redis: Redis;
let queue: Queue;
const startPrefix = `{${uniqueName('trial-start')}}`;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  queue = new Queue('trial-start-writes', { connection: redis, prefix: startPrefix });
});
after(async () => {
  await queue?.close();
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

const epoch1: EpochMetrics = {
  epoch: 1,
  loss: 1,
  accuracy: 0.5,
  val_loss: 0.8,
  val_accuracy: 0.5,
  durationMs: 1,
  imagesPerSec: 1,
};

function startedWith(history: EpochMetrics[]): TrialStarted {
  return {
    engine: 'test',
    engineDescription: 'test',
    resumedFromEpoch: history.length,
    history,
    numClasses: 2,
    multiLabel: false,
    trainImages: 1,
    validationImages: 1,
    manifestEtag: '',
    downloaded: 0,
    cached: 0,
    checkpoints: [],
    checkpointProblems: [],
  };
}

/** A trial as the controller creates it, its attempt started as the job holder starts it. */
async function startedTrial(
  store: TrialStateStore,
  payload: TrialPayload,
  earlier: Partial<TrialState>,
): Promise<TrialState> {
  const created: TrialState = {
    trialId: payload.trialId,
    trialNumber: payload.trialNumber,
    status: 'queued',
    params: payload.params,
    epochsCompleted: 0,
    objectiveValue: null,
    attempts: 0,
    queuedAt: new Date().toISOString(),
    ...earlier,
  };
  const key = redisKeys(startPrefix).sweepTrials(payload.sweepId);
  await redis.hset(key, payload.trialId, JSON.stringify(created));
  await store.get(payload.sweepId, payload.trialId); // what the job holder reads first
  return store.startAttempt(payload, {
    attempt: 1,
    workerId: 'worker-1',
    startedAt: new Date().toISOString(),
  });
}

/** The listeners the job holder gives the trainer of `payload`'s job (added to the queue here). */
async function listenersFor(
  store: TrialStateStore,
  payload: TrialPayload,
  epochsEmpty: boolean,
): Promise<TrialProcessListeners> {
  const job = await queue.add('trial', payload, { jobId: payload.trialId });
  const progress: TrialProgress = { epochs: [], best: null };
  return trialListeners(
    {
      job,
      payload,
      store,
      redis,
      keyPrefix: startPrefix,
      log: createLogger('silent'),
      onTrainingStarted: () => undefined,
      deleteCheckpoints: () => Promise.resolve(),
      epochsEmpty,
    },
    progress,
  );
}

test('a first start sends nothing once the trainer reports it started', async () => {
  const store = new TrialStateStore(redis, startPrefix);
  const payload = payloadOf(uniqueName('sw-first'));
  const atStart = await startedTrial(store, payload, {});
  const listeners = await listenersFor(store, payload, true);
  const commands = ['eval', 'del', 'hget', 'hset'];
  const before = await Promise.all(commands.map(calls));
  await listeners.onStarted?.(startedWith([]));
  assert.deepEqual(await Promise.all(commands.map(calls)), before, 'no command sent');
  const key = redisKeys(startPrefix).sweepTrials(payload.sweepId);
  assert.deepEqual(JSON.parse((await redis.hget(key, payload.trialId)) ?? 'null'), atStart);
  assert.equal(atStart.status, 'running');
  assert.equal(atStart.attemptsLog?.length, 1);
});

test('a start after an earlier attempt resets the epoch list and records the progress', async () => {
  const store = new TrialStateStore(redis, startPrefix);
  const payload = payloadOf(uniqueName('sw-again'));
  const epochsKey = redisKeys(startPrefix).trialEpochs(payload.trialId);
  // The earlier attempt trained an epoch whose checkpoint did not survive: the trial restarts.
  await redis.rpush(epochsKey, JSON.stringify(epoch1));
  await startedTrial(store, payload, { epochsCompleted: 1, objectiveValue: 0.8, latest: epoch1 });
  await (await listenersFor(store, payload, false)).onStarted?.(startedWith([]));
  assert.equal(await redis.llen(epochsKey), 0, 'the earlier epoch is gone');
  const state = await store.get(payload.sweepId, payload.trialId);
  assert.equal(state?.epochsCompleted, 0);
  assert.equal(state?.objectiveValue, null);
});

test('a resume records the checkpoint epochs even on a first start', async () => {
  const store = new TrialStateStore(redis, startPrefix);
  const payload = payloadOf(uniqueName('sw-resume'));
  await startedTrial(store, payload, {});
  await (await listenersFor(store, payload, true)).onStarted?.(startedWith([epoch1]));
  const epochs = await redis.lrange(redisKeys(startPrefix).trialEpochs(payload.trialId), 0, -1);
  assert.deepEqual(
    epochs.map((raw) => JSON.parse(raw) as EpochMetrics),
    [epoch1],
  );
  const state = await store.get(payload.sweepId, payload.trialId);
  assert.equal(state?.epochsCompleted, 1);
  assert.equal(state?.objectiveValue, 0.8);
});
