// Pause, resume and PATCH while another writer changes the sweep record (a replica whose lock
// expired, or one that took the lock after ours expired), against a real redis-server and s3rver.
// The concurrent writer is a second SweepStore on its own Redis connection writing through the
// same fenced putSweep a controller uses; in the controller tests it writes right after the
// action read the record (for the first k reads), so the interleaving is deterministic.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ApiError,
  StaleSweepWriteError,
  SweepController,
  SweepStore,
  type SweepRecord,
} from '@setrain/api';
import {
  apiErrorBodySchema,
  parseSweepSpec,
  redisKeys,
  sweepDetailSchema,
  type SweepSpec,
} from '@setrain/protocol';
import { Redis } from 'ioredis';

import { useApiTestFile, type ApiWorld } from './api-world.js';

const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

const api = useApiTestFile({ label: 'user-actions', apiKey: 'user-actions-key-0123456789' });
const AUTH = api.auth;

/** Another writer of sweep records, on its own connection: re-reads and writes until it lands. */
class ConcurrentWriter {
  readonly store: SweepStore;
  /** Writes that landed, and writes fenced off by someone else's newer version. */
  written = 0;
  fenced = 0;

  constructor(
    readonly redis: Redis,
    prefix: string,
  ) {
    this.store = new SweepStore(redis, prefix);
  }

  /** Stores a newer version of the sweep (a fresh updatedAt, as any controller write does). */
  async write(sweepId: string): Promise<void> {
    for (;;) {
      const record = await this.store.getSweep(sweepId);
      assert.ok(record !== undefined);
      try {
        await this.store.putSweep({ ...record, updatedAt: new Date().toISOString() });
        this.written++;
        return;
      } catch (error) {
        if (!(error instanceof StaleSweepWriteError)) throw error;
        this.fenced++;
      }
    }
  }
}

/** The controller's store; while armed, the writer stores a newer version after each read. */
class InterleavedStore extends SweepStore {
  interleave = 0;
  writer: ConcurrentWriter | undefined;

  override async getSweep(sweepId: string): Promise<SweepRecord | undefined> {
    const record = await super.getSweep(sweepId);
    if (this.interleave > 0 && this.writer !== undefined) {
      this.interleave--;
      await this.writer.write(sweepId);
    }
    return record;
  }
}

interface Setup {
  readonly w: ApiWorld;
  readonly store: InterleavedStore;
  readonly writer: ConcurrentWriter;
  readonly controller: SweepController;
  readonly sweepId: string;
  close(): Promise<void>;
}

function spec(w: ApiWorld): SweepSpec {
  return parseSweepSpec({
    dataset: w.dataset,
    training: { epochs: 1, batchSize: 2 },
    search: { strategy: 'grid', parameters: { dropout: [0.1, 0.2, 0.3] } },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 3,
    parallelism: 1,
  });
}

async function setup(label: string, userLockWaitMs?: number): Promise<Setup> {
  const w = await api.world({ label });
  const store = new InterleavedStore(w.redis, w.prefix);
  const writerRedis = new Redis(api.redisServer.url, { maxRetriesPerRequest: 1 });
  const writer = new ConcurrentWriter(writerRedis, w.prefix);
  store.writer = writer;
  const controller = new SweepController({
    store,
    queue: w.queue,
    s3: api.s3.client,
    artifactsBucket: w.bucket,
    logger: SILENT,
    ...(userLockWaitMs !== undefined ? { userLockWaitMs } : {}),
  });
  const created = await controller.createSweep({ spec: spec(w), kind: 'sweep' });
  return {
    w,
    store,
    writer,
    controller,
    sweepId: created.id,
    async close() {
      await controller.close();
      writerRedis.disconnect();
      await w.close();
    },
  };
}

test('pause, resume and PATCH apply again when another writer stored a newer version in between', async () => {
  const s = await setup('user-actions-retry');
  try {
    const before = await s.store.getSweep(s.sweepId);
    assert.ok(before !== undefined);

    s.store.interleave = 2; // the first two reads of each action are overtaken by a write
    const paused = await s.controller.pause(s.sweepId);
    assert.equal(paused.status, 'paused');
    assert.equal(s.writer.written, 2, 'the writer landed a newer version after each of 2 reads');

    s.store.interleave = 2;
    const updated = await s.controller.update(s.sweepId, { parallelism: 3, maxTrials: 2 });
    assert.equal(updated.spec.parallelism, 3);
    assert.equal(updated.spec.maxTrials, 2);
    assert.equal(updated.status, 'paused', "the update keeps the pause the writer didn't touch");

    s.store.interleave = 2;
    const resumed = await s.controller.resume(s.sweepId);
    assert.equal(resumed.status, 'running');

    const stored = await s.store.getSweep(s.sweepId);
    assert.equal(stored?.status, 'running');
    assert.equal(stored?.spec.parallelism, 3, "the writer's versions did not undo the update");
    assert.equal(s.writer.written, 6);
    assert.ok((stored?.version ?? 0) >= before.version + 9, 'six writer versions + three actions');
  } finally {
    await s.close();
  }
});

test('an action overtaken on every attempt answers 409 SWEEP_CONFLICT and stores nothing', async () => {
  const s = await setup('user-actions-conflict');
  try {
    s.store.interleave = Number.POSITIVE_INFINITY;
    const error = await s.controller.update(s.sweepId, { parallelism: 4 }).then(
      () => assert.fail('the update should not land'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, 'SWEEP_CONFLICT');
    assert.equal(error.status, 409);
    assert.match(error.message, /changed by another writer each of the 5 times this update/);
    assert.equal(s.writer.written, 5, 'one concurrent write per attempt, five attempts');
    s.store.interleave = 0;
    assert.equal((await s.store.getSweep(s.sweepId))?.spec.parallelism, 1, 'nothing stored');
  } finally {
    await s.close();
  }
});

test('an action whose sweep stays locked by another replica answers 503 SWEEP_BUSY', async () => {
  const s = await setup('user-actions-busy', 300);
  try {
    const lockKey = redisKeys(s.w.prefix).sweepLock(s.sweepId);
    await s.w.redis.set(lockKey, 'other-replica', 'PX', 60_000);
    const error = await s.controller.pause(s.sweepId).then(
      () => assert.fail('the pause should not land'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, 'SWEEP_BUSY');
    assert.equal(error.status, 503);
    assert.match(error.message, /locked by another API replica for 300 ms.*retry the pause/);
    await s.w.redis.del(lockKey);
    assert.equal((await s.store.getSweep(s.sweepId))?.status, 'running', 'nothing stored');
  } finally {
    await s.close();
  }
});

test('over HTTP, PATCH, pause and resume never answer 500 while a replica keeps writing', async () => {
  const w = await api.world({ label: 'user-actions-http' });
  const writerRedis = new Redis(api.redisServer.url, { maxRetriesPerRequest: 1 });
  const writer = new ConcurrentWriter(writerRedis, w.prefix);
  let writing = true;
  let loops: Promise<void>[] = [];
  try {
    const app = await w.app();
    const created = await app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: AUTH,
      payload: { ...spec(w) },
    });
    assert.equal(created.statusCode, 201, created.body);
    const sweepId = sweepDetailSchema.parse(created.json()).id;
    // Two write loops stand in for a replica writing the record over and over.
    loops = [0, 1].map(async () => {
      while (writing) await writer.write(sweepId);
    });
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const requests = [
        { method: 'PATCH' as const, url: `/v1/sweeps/${sweepId}`, payload: { parallelism: 1 + i } },
        { method: 'POST' as const, url: `/v1/sweeps/${sweepId}/pause` },
        { method: 'POST' as const, url: `/v1/sweeps/${sweepId}/resume` },
      ];
      for (const request of requests) {
        const response = await app.inject({ ...request, headers: AUTH });
        answers.push(response.statusCode);
        if (response.statusCode === 200) continue;
        assert.equal(response.statusCode, 409, response.body);
        assert.equal(apiErrorBodySchema.parse(response.json()).error.code, 'SWEEP_CONFLICT');
      }
    }
    writing = false;
    await Promise.all(loops);
    assert.ok(writer.written > 20, `the replica wrote ${writer.written} times meanwhile`);
    assert.ok(answers.includes(200), `some actions landed: ${answers.join(',')}`);
  } finally {
    writing = false;
    await Promise.allSettled(loops);
    writerRedis.disconnect();
    await w.close();
  }
});
