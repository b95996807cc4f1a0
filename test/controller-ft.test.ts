// Fault tolerance of the sweep controller against a real redis-server and s3rver, with in-test
// BullMQ workers: a cancel is recorded durably even while another replica holds the sweep lock,
// the reconcile loop keeps stopping trials of a finished sweep, the lock is renewed and sweep
// writes are fenced, and a sweep in which every trial failed ends failed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { StaleSweepWriteError, SweepLock, SweepStore, type ApiApp } from '@setrain/api';
import {
  cancelSweepResponseSchema,
  controlMessageSchema,
  redisKeys,
  stopRequestSchema,
  sweepDetailSchema,
  SWEEP_STOP_FIELD,
  trialIdOf,
  type SweepDetail,
} from '@setrain/protocol';
import { Redis } from 'ioredis';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, waitFor, type RedisServer, type S3Server } from './harness/index.js';

const API_KEY = 'test-key-0123456789abcdef';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

let redisServer: RedisServer;
let s3: S3Server;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
});
after(async () => {
  await Promise.all([redisServer.stop(), s3.stop()]);
});

function world(): Promise<ApiWorld> {
  return createApiWorld({
    redisServer,
    s3,
    label: 'controller-ft',
    apiKeys: [API_KEY],
    appDeps: { metrics: false },
  });
}

function gridSpec(w: ApiWorld, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataset: w.dataset,
    training: { epochs: 1 },
    search: { strategy: 'grid', parameters: { dropout: [0.1, 0.2, 0.3, 0.4] } },
    objective: { metric: 'val_loss', goal: 'minimize' },
    maxTrials: 4,
    parallelism: 2,
    ...extra,
  };
}

async function createSweep(app: ApiApp, spec: object): Promise<SweepDetail> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/sweeps',
    headers: AUTH,
    payload: spec,
  });
  assert.equal(response.statusCode, 201, response.body);
  return sweepDetailSchema.parse(response.json());
}

async function getSweep(app: ApiApp, id: string): Promise<SweepDetail> {
  const response = await app.inject({ method: 'GET', url: `/v1/sweeps/${id}`, headers: AUTH });
  assert.equal(response.statusCode, 200, response.body);
  return sweepDetailSchema.parse(response.json());
}

test('a cancel is recorded and answered while another replica holds the lock; reconcile keeps stopping the trial', async () => {
  const w = await world();
  const subscriber = new Redis(redisServer.url);
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
  const w = await world();
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
    assert.notEqual(await store.acquireLock(other, 300), undefined, 'released afterwards');

    // Fenced: a replica that read the record before a newer write cannot overwrite it.
    const stale = await store.getSweep(sweep.id);
    assert.ok(stale !== undefined);
    const newer = await store.putSweep({ ...stale, status: 'paused' });
    assert.equal(newer.version, stale.version + 1);
    await assert.rejects(store.putSweep({ ...stale, status: 'running' }), StaleSweepWriteError);
    assert.equal((await store.getSweep(sweep.id))?.status, 'paused');
  } finally {
    await w.close();
  }
});

test('a sweep in which every trial failed ends failed with the reason, not completed', async () => {
  const w = await world();
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
