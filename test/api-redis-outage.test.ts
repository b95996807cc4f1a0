/**
 * The API's own Redis connections (API_REDIS_OPTIONS: no offline queue, one retry; the read
 * routes' auto-pipelined duplicate, READ_REDIS_OPTIONS) against a redis-server that goes away
 * (behind a proxy that drops and refuses connections): reads answer 503 REDIS_UNAVAILABLE at once
 * instead of hanging, /readyz says Redis is not ready, and both answer again once it is back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { API_REDIS_OPTIONS, buildApp, type ApiApp } from '@setrain/api';
import { newSweepId, trialIdOf } from '@setrain/protocol';
import { Redis } from 'ioredis';

import {
  startOutageProxy,
  startRedis,
  startS3,
  waitFor,
  type OutageProxy,
  type RedisServer,
  type S3Server,
} from './harness/index.js';

const KEY = 'outage-test-key-0123456789abcdef';

let redisServer: RedisServer;
let proxy: OutageProxy;
let s3: S3Server;
let redis: Redis;
let app: ApiApp;

before(async () => {
  redisServer = await startRedis();
  proxy = await startOutageProxy(redisServer.port);
  s3 = await startS3();
  redis = new Redis(`redis://127.0.0.1:${proxy.port}`, API_REDIS_OPTIONS);
  await redis.connect();
  app = await buildApp({
    redis,
    s3: s3.client,
    keyPrefix: '{outage}',
    artifactsBucket: await s3.createBucket(),
    apiKeys: [KEY],
    metrics: false,
  });
  await app.ready();
});

after(async () => {
  await proxy.up(); // BullMQ's connections close cleanly only with Redis there
  await app.close();
  redis.disconnect();
  await proxy.stop();
  await redisServer.stop();
  await s3.stop();
});

const statusRead = (trialId: string) =>
  app.inject({
    method: 'GET',
    url: `/v1/trials/${trialId}`,
    headers: { authorization: `Bearer ${KEY}` },
  });

async function readiness() {
  const answer = await app.inject({ method: 'GET', url: '/readyz' });
  return {
    status: answer.statusCode,
    redis: answer.json<{ checks: { redis: boolean } }>().checks.redis,
  };
}

test('with Redis gone, status reads answer 503 REDIS_UNAVAILABLE at once, and recover', async () => {
  const trialId = trialIdOf(newSweepId(randomBytes), 1);
  const before = await statusRead(trialId);
  assert.equal(before.statusCode, 404, before.body);
  await proxy.down();
  const started = Date.now();
  // Many reads in flight when it goes: every one of them must fail cleanly, none may hang.
  const answers = await Promise.all(Array.from({ length: 20 }, () => statusRead(trialId)));
  for (const answer of answers) {
    assert.equal(answer.statusCode, 503, answer.body);
    assert.match(answer.body, /REDIS_UNAVAILABLE/);
  }
  assert.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms`);
  await proxy.up();
  await waitFor(async () => (await statusRead(trialId)).statusCode === 404, {
    what: 'status reads to answer again',
    timeoutMs: 15_000,
  });
  // The API's own connection (writes, /readyz) comes back too.
  await waitFor(async () => (await readiness()).status === 200, {
    what: '/readyz to answer ready again',
    timeoutMs: 15_000,
  });
});

test('/readyz reports Redis not ready while it is gone, and ready again after', async () => {
  assert.deepEqual(await readiness(), { status: 200, redis: true });
  await proxy.down();
  try {
    assert.deepEqual(await readiness(), { status: 503, redis: false });
  } finally {
    await proxy.up();
  }
  await waitFor(async () => (await readiness()).status === 200, {
    what: '/readyz to answer ready again',
    timeoutMs: 15_000,
  });
});

test(
  'an API closed while Redis is gone finishes closing in bounded time',
  { timeout: 30_000 },
  async () => {
    // An app of its own, so the shared one above stays usable.
    const own = new Redis(`redis://127.0.0.1:${proxy.port}`, API_REDIS_OPTIONS);
    await own.connect();
    const closing = await buildApp({
      redis: own,
      s3: s3.client,
      keyPrefix: '{outage-close}',
      artifactsBucket: await s3.createBucket(),
      apiKeys: [KEY],
      metrics: false,
    });
    await closing.ready();
    await proxy.down();
    try {
      // Long enough for every connection to be between two reconnect attempts.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const started = Date.now();
      await closing.close();
      // Each part gets 5 s: BullMQ's QueueEvents close waits for an 'end' that ioredis never emits
      // for a connection between two reconnect attempts, so without the bound it never returned.
      assert.ok(Date.now() - started < 12_000, `closed in ${Date.now() - started} ms`);
    } finally {
      own.disconnect();
      await proxy.up();
    }
  },
);
