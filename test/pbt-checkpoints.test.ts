/**
 * PBT checkpoint retention and interrupted exploits, against real redis-server and s3rver with
 * the controller's PbtStepper (no training: the checkpoints are small objects with a state.json
 * listing them, as the worker writes them; the sweep is paused, so nothing is enqueued).
 * Population 2, interval 3, budget 6. Trial 1 learns, trial 2 does not. The first step saves
 * trial 1's boundary (keeping its latest and best checkpoints) and copies trial 1's checkpoints
 * for trial 2's exploit, then loses trial 2's compare-and-set (as if the API died between the copy
 * and the save). Trial 1 moves on to epoch 4; the repeated step exploits its epoch 4 instead, and
 * the copies nobody saved are deleted with trial 2's superseded checkpoints. A trial that trained
 * its budget keeps only its latest checkpoint; so does a failed or cancelled one, once its job is
 * no longer held (second test).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { PbtStepper, SweepStore, TrialEnqueuer, type SweepRecord } from '@setrain/api';
import {
  CHECKPOINT_FILES,
  epochDirName,
  newSweepId,
  parseSweepSpec,
  runKeys,
  TRIALS_QUEUE,
  type CheckpointRoot,
  type EpochMetrics,
  type TrialPayload,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { getObjectBytes, listKeys, putObject, sha256Hex } from '@setrain/storage';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import { epochMetrics } from './fixtures/epoch-metrics.js';
import {
  startRedis,
  startS3,
  uniqueName,
  type RedisServer,
  type S3Server,
} from './harness/index.js';

let redisServer: RedisServer;
let s3: S3Server;
let redis: Redis;
let queue: Queue<TrialPayload, TrialResult>;
let bucket: string;
let store: SweepStore;

const silent = { info() {}, warn() {}, error() {}, debug() {} };

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  bucket = await s3.createBucket();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const prefix = `{${uniqueName('pbt-ckpt')}}`;
  store = new SweepStore(redis, prefix);
  queue = new Queue(TRIALS_QUEUE, { connection: redis, prefix });
});
after(async () => {
  await queue?.close();
  redis?.disconnect();
  await Promise.all([redisServer?.stop(), s3?.stop()]);
});

const metrics = epochMetrics;

/** Writes a complete checkpoint (files, then state.json) at `prefix`; returns its trusted root. */
async function writeCheckpoint(
  prefix: string,
  trialId: string,
  history: readonly EpochMetrics[],
): Promise<CheckpointRoot> {
  const epoch = history.length;
  const files = ['model.json', 'weights.bin'];
  for (const name of files)
    await putObject(s3.client, bucket, `${prefix}${name}`, `${trialId}/${epoch}/${name}`);
  const state = JSON.stringify({
    trialId,
    epoch,
    epochs: history,
    files: files.map((name) => ({ name })),
  });
  await putObject(s3.client, bucket, `${prefix}${CHECKPOINT_FILES.state}`, state);
  return { epoch, prefix, stateSha256: sha256Hex(new TextEncoder().encode(state)) };
}

/** A trial at `history.length` epochs with a checkpoint per epoch and its metrics in Redis. */
async function trialAt(
  record: SweepRecord,
  trialNumber: number,
  history: readonly EpochMetrics[],
  status: TrialState['status'],
  learningRate: number,
): Promise<TrialState> {
  const trialId = `${record.id}.${trialNumber}`;
  const keys = runKeys(record.id).trial(trialId);
  const checkpoints: CheckpointRoot[] = [];
  for (let epoch = 1; epoch <= history.length; epoch++) {
    checkpoints.push(
      await writeCheckpoint(keys.checkpoint(epoch), trialId, history.slice(0, epoch)),
    );
  }
  const epochsKey = store.keys.trialEpochs(trialId);
  await redis.del(epochsKey);
  await redis.rpush(epochsKey, ...history.map((m) => JSON.stringify(m)));
  return {
    trialId,
    trialNumber,
    status,
    params: { learningRate },
    epochsCompleted: history.length,
    objectiveValue: Math.min(...history.map((m) => m.val_loss)),
    latest: history.at(-1),
    checkpoints,
    queuedAt: record.createdAt,
    attempts: 0,
  };
}

async function save(sweepId: string, state: TrialState): Promise<void> {
  const stored = (await store.getStoredTrials(sweepId)).find(
    (t) => t.state.trialId === state.trialId,
  );
  assert.ok(await store.compareAndSetTrial(sweepId, state, stored?.raw));
}

/** The checkpoint directories under a trial's checkpoints/. */
async function dirsOf(sweepId: string, trialId: string): Promise<string[]> {
  const base = runKeys(sweepId).trial(trialId).checkpointsPrefix;
  const keys = await listKeys(s3.client, bucket, base);
  return [...new Set(keys.map((key) => key.slice(base.length).split('/')[0] ?? ''))].sort();
}

/** A pbt sweep record (population 2, interval 3, budget 6) stored with `status`, and a stepper. */
async function pbtSweep(
  status: SweepRecord['status'],
): Promise<{ record: SweepRecord; stepper: PbtStepper }> {
  const at = new Date().toISOString();
  const spec = parseSweepSpec({
    dataset: `s3://${bucket}/datasets/x/manifest.jsonl`,
    training: { epochs: 6, seed: 3 },
    search: {
      strategy: 'pbt',
      parameters: { learningRate: { type: 'log_uniform', min: 1e-5, max: 1e-1 } },
      pbt: { populationSize: 2, perturbationInterval: 3 },
    },
    objective: { metric: 'val_loss', goal: 'minimize' },
    parallelism: 2,
  });
  const record: SweepRecord = {
    id: newSweepId((n) => randomBytes(n)),
    kind: 'sweep',
    spec,
    status,
    createdAt: at,
    updatedAt: at,
    plannedTrials: 2,
    startedTrials: 2,
    artifactsBucket: bucket,
    sampler: 'pbt',
    best: null,
    finalSweepJsonWritten: false,
    warmStart: [],
    version: 0,
  };
  await store.createSweep(record);
  const enqueuer = new TrialEnqueuer({
    store,
    queue,
    logger: silent,
    now: () => new Date(),
    recordStored: () => undefined,
  });
  const stepper = new PbtStepper({
    store,
    queue,
    enqueuer,
    s3: s3.client,
    logger: silent,
    now: () => new Date(),
  });
  return { record, stepper };
}

test('PBT keeps latest and best at boundaries, only the latest at the budget, and deletes copies an interrupted exploit left', async () => {
  const { record, stepper } = await pbtSweep('paused');
  const one = await trialAt(
    record,
    1,
    [metrics(1, 0.6), metrics(2, 0.4), metrics(3, 0.5)],
    'completed',
    1e-3,
  );
  const two = await trialAt(
    record,
    2,
    [metrics(1, 3), metrics(2, 2.5), metrics(3, 2)],
    'completed',
    1e-5,
  );
  await save(record.id, one);
  await save(record.id, two);
  const twoKeys = runKeys(record.id).trial(two.trialId);

  // Step 1, with trial 2 as read before another writer changed it: its compare-and-set fails
  // after the copies were made.
  const stale = await store.getStoredTrials(record.id);
  await save(record.id, { ...two, reason: 'changed by another writer' });
  const first = await stepper.step(record, stale);
  assert.equal(first.contended, true);
  // Trial 1 continued: latest (3) and best (2) kept, epoch 1 deleted.
  const oneAfter = await store.getTrial(record.id, one.trialId);
  assert.equal(oneAfter?.status, 'requeued');
  assert.deepEqual(
    oneAfter?.checkpoints?.map((c) => c.epoch),
    [2, 3],
  );
  assert.deepEqual(await dirsOf(record.id, one.trialId), ['epoch-0002', 'epoch-0003']);
  // Trial 2's copies of trial 1's epochs 3 and 2 (its best) are there, at the exploit's fixed keys,
  // but its saved state does not name them.
  assert.deepEqual(await dirsOf(record.id, two.trialId), [
    'epoch-0001',
    'epoch-0002',
    'epoch-0002-pbt-1',
    'epoch-0003',
    'epoch-0003-pbt-1',
  ]);
  assert.equal((await store.getTrial(record.id, two.trialId))?.pbt, undefined);

  // Trial 1 trains on to epoch 4 (its job running, checkpoint 4 written) before the step repeats.
  const history4 = [metrics(1, 0.6), metrics(2, 0.4), metrics(3, 0.5), metrics(4, 0.3)];
  const root4 = await writeCheckpoint(
    runKeys(record.id).trial(one.trialId).checkpoint(4),
    one.trialId,
    history4,
  );
  await redis.rpush(store.keys.trialEpochs(one.trialId), JSON.stringify(metrics(4, 0.3)));
  assert.ok(oneAfter !== undefined);
  await save(record.id, {
    ...oneAfter,
    status: 'running',
    epochsCompleted: 4,
    latest: metrics(4, 0.3),
    checkpoints: [...(oneAfter.checkpoints ?? []), root4],
  });

  // Step 2: trial 2 now exploits trial 1's epoch 4 (also its best); everything else of trial 2's
  // checkpoints/ is deleted, the unsaved copies included. Trial 1 (running) is not touched.
  const second = await stepper.step(record, await store.getStoredTrials(record.id));
  assert.equal(second.contended, false);
  const twoAfter = await store.getTrial(record.id, two.trialId);
  assert.equal(twoAfter?.status, 'requeued');
  assert.deepEqual(
    twoAfter?.pbt?.lineage.map((l) => [l.donorTrialId, l.donorEpoch, l.checkpoint]),
    [[one.trialId, 4, twoKeys.exploitedCheckpoint(4, 1)]],
  );
  assert.deepEqual(twoAfter?.checkpoints, [
    { epoch: 4, prefix: twoKeys.exploitedCheckpoint(4, 1), stateSha256: root4.stateSha256 },
  ]);
  assert.deepEqual(await dirsOf(record.id, two.trialId), [`${epochDirName(4)}-pbt-1`]);
  for (const name of ['model.json', 'weights.bin', CHECKPOINT_FILES.state]) {
    const copy = await getObjectBytes(
      s3.client,
      bucket,
      `${twoKeys.exploitedCheckpoint(4, 1)}${name}`,
    );
    const donor = await getObjectBytes(s3.client, bucket, `${root4.prefix}${name}`);
    assert.deepEqual(copy.bytes, donor.bytes, name);
  }
  assert.deepEqual(await dirsOf(record.id, one.trialId), [
    'epoch-0002',
    'epoch-0003',
    'epoch-0004',
  ]);

  // Trial 1 completes its budget with checkpoints 2-6: the next step keeps only epoch 6.
  const history6 = [...history4, metrics(5, 0.35), metrics(6, 0.32)];
  const roots = [...(oneAfter.checkpoints ?? []), root4];
  for (const epoch of [5, 6]) {
    roots.push(
      await writeCheckpoint(
        runKeys(record.id).trial(one.trialId).checkpoint(epoch),
        one.trialId,
        history6.slice(0, epoch),
      ),
    );
  }
  const running = await store.getTrial(record.id, one.trialId);
  assert.ok(running !== undefined);
  await save(record.id, {
    ...running,
    status: 'completed',
    epochsCompleted: 6,
    latest: metrics(6, 0.32),
    checkpoints: roots,
  });
  const third = await stepper.step(record, await store.getStoredTrials(record.id));
  assert.equal(third.contended, false);
  assert.deepEqual(
    (await store.getTrial(record.id, one.trialId))?.checkpoints?.map((c) => c.epoch),
    [6],
  );
  assert.deepEqual(await dirsOf(record.id, one.trialId), ['epoch-0006']);
  // Trial 2 (requeued, its job not run here) keeps its copy.
  assert.deepEqual(await dirsOf(record.id, two.trialId), ['epoch-0004-pbt-1']);
});

test('PBT: a failed or cancelled trial keeps only its latest checkpoint once its job is let go', async () => {
  const { record, stepper } = await pbtSweep('cancelled');
  const failed = await trialAt(
    record,
    1,
    [metrics(1, 0.6), metrics(2, 0.4), metrics(3, 0.5), metrics(4, 0.45)],
    'failed',
    1e-3,
  );
  const cancelled = await trialAt(record, 2, [metrics(1, 3), metrics(2, 2.5)], 'cancelled', 1e-5);
  await save(record.id, failed);
  await save(record.id, cancelled);
  // An exploit copy the cancelled trial's saved state never named (an interrupted exploit).
  const cancelledKeys = runKeys(record.id).trial(cancelled.trialId);
  await writeCheckpoint(cancelledKeys.exploitedCheckpoint(1, 1), cancelled.trialId, [
    metrics(1, 0.6),
  ]);
  assert.deepEqual(await dirsOf(record.id, failed.trialId), [
    'epoch-0001',
    'epoch-0002',
    'epoch-0003',
    'epoch-0004',
  ]);

  // The cancelled trial's job is still held (waiting here; a worker that has written the trial's
  // end has not let it go yet): nothing of it is deleted, and the pass is contended (not settled).
  // (Its data is never read: only the job's state matters to the stepper.)
  const job = await queue.add('trial', {} as TrialPayload, { jobId: cancelled.trialId });
  const held = await stepper.step(record, await store.getStoredTrials(record.id));
  assert.equal(held.contended, true);
  assert.deepEqual(
    (await store.getTrial(record.id, cancelled.trialId))?.checkpoints?.map((c) => c.epoch),
    [1, 2],
  );
  assert.equal((await dirsOf(record.id, cancelled.trialId)).length, 3);
  // The failed trial (no job) was pruned in that pass: only its latest epoch is left.
  assert.deepEqual(
    (await store.getTrial(record.id, failed.trialId))?.checkpoints?.map((c) => c.epoch),
    [4],
  );
  assert.deepEqual(await dirsOf(record.id, failed.trialId), ['epoch-0004']);

  await job.remove();
  const released = await stepper.step(record, await store.getStoredTrials(record.id));
  assert.equal(released.contended, false);
  assert.deepEqual(
    (await store.getTrial(record.id, cancelled.trialId))?.checkpoints?.map((c) => c.epoch),
    [2],
  );
  assert.deepEqual(await dirsOf(record.id, cancelled.trialId), ['epoch-0002']);
  // Once pruned, a later pass changes nothing.
  const again = await stepper.step(record, await store.getStoredTrials(record.id));
  assert.equal(again.contended, false);
  assert.deepEqual(await dirsOf(record.id, failed.trialId), ['epoch-0004']);
});
