/**
 * Webhook address checks and the delivery log after the archive, against real redis-server,
 * s3rver, an in-process API and a real HTTP receiver on 127.0.0.1 (SETRAIN_WEBHOOK_URLS, the
 * operator's own URL, which is trusted). A spec URL whose literal host is not public is refused
 * at submit; one whose name resolves to a non-public address (this machine's host name) is
 * blocked at delivery, recorded and not retried. Once the sweep's Redis keys expired, the
 * deliveries still answer, from the archive.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';

import {
  apiErrorBodySchema,
  blockedRangeOf,
  redisKeys,
  sweepDetailSchema,
  webhookDeliveriesResponseSchema,
} from '@setrain/protocol';

import { createApiWorld, writeFinishedTrial, type ApiWorld } from './api-world.js';
import { startRedis, startS3, waitFor, type RedisServer, type S3Server } from './harness/index.js';

const API_KEY = 'hooks-guard-key-0123456789abcdef';
const AUTH = { authorization: `Bearer ${API_KEY}` };

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let receiver: Server;
const received: string[] = [];

before(async () => {
  receiver = createServer((request, response) => {
    received.push(request.url ?? '');
    request.resume();
    response.statusCode = 204;
    response.end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  world = await createApiWorld({
    redisServer,
    s3,
    label: 'hooks-guard',
    apiKeys: [API_KEY],
    appDeps: {
      sweepRetentionSeconds: 1,
      webhooks: {
        secret: 'hooks-guard-secret-0123456789',
        urls: [`http://127.0.0.1:${port}/operator`],
        attempts: 3,
        backoffMs: 50,
      },
    },
  });
});
after(async () => {
  await world?.close();
  await Promise.all([redisServer?.stop(), s3?.stop()]);
  await new Promise((resolve) => receiver?.close(resolve));
});

const specWith = (w: ApiWorld, url: string) => ({
  dataset: w.dataset,
  training: { epochs: 1 },
  search: { strategy: 'grid', parameters: { dropout: [0.1] } },
  notify: { webhooks: [{ url }] },
});

test('a notify URL whose literal host is not public answers 400 WEBHOOK_URL_NOT_ALLOWED', async () => {
  const app = await world.app();
  const refused: [string, RegExp][] = [
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254, a linkLocal address/],
    ['http://127.0.0.1:8080/hook', /127\.0\.0\.1, a loopback address/],
    ['http://2130706433/hook', /127\.0\.0\.1, a loopback address/],
    ['https://10.0.0.7/hook', /10\.0\.0\.7, a private address/],
    ['http://[::1]/hook', /::1, a loopback address/],
    ['http://[fd12::1]/hook', /fd12::1, a uniqueLocal address/],
    ['http://[::ffff:192.168.0.1]/hook', /a private address/],
    ['http://localhost:9000/hook', /127\.0\.0\.1, a loopback address/],
  ];
  for (const [url, message] of refused) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: AUTH,
      payload: specWith(world, url),
    });
    assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
    const { error } = apiErrorBodySchema.parse(response.json());
    assert.equal(error.code, 'WEBHOOK_URL_NOT_ALLOWED', url);
    assert.match(error.message, message, url);
    assert.match(error.message, /SETRAIN_WEBHOOK_ALLOWED_NETWORKS/);
    assert.deepEqual(
      error.issues?.map((i) => i.path),
      ['notify.webhooks[0].url'],
    );
  }
});

test('a name that resolves to a non-public address is blocked at delivery; the log outlives the Redis keys', async () => {
  // This machine's host name resolves through the system resolver (getaddrinfo: /etc/hosts) to a
  // loopback or container address: a name the submit check cannot judge.
  const host = hostname();
  const resolved = await lookup(host, { all: true });
  assert.ok(
    resolved.every((a) => blockedRangeOf(a.address, []) !== undefined),
    `${host} must resolve to non-public addresses only for this test; got ${JSON.stringify(resolved)}`,
  );
  const port = (receiver.address() as AddressInfo).port;
  const app = await world.app();
  world.worker((job) => writeFinishedTrial(s3.client, world.bucket, job.data, 0.5));
  const created = await app.inject({
    method: 'POST',
    url: '/v1/sweeps',
    headers: AUTH,
    payload: specWith(world, `http://${host}:${port}/spec`),
  });
  assert.equal(created.statusCode, 201, created.body);
  const sweepId = sweepDetailSchema.parse(created.json()).id;
  const get = (url: string) => app.inject({ method: 'GET', url, headers: AUTH });
  const deliveries = async () =>
    webhookDeliveriesResponseSchema.parse((await get(`/v1/sweeps/${sweepId}/webhooks`)).json());
  // running and completed (status), and the best trial: 3 events to each of the 2 URLs.
  const live = await waitFor(
    async () => {
      const { deliveries: list } = await deliveries();
      return list.length >= 6 ? list : undefined;
    },
    { what: 'six delivery attempts', timeoutMs: 30_000, intervalMs: 100 },
  );
  const specAttempts = live.filter((d) => d.url.endsWith('/spec'));
  assert.equal(specAttempts.length, 3, JSON.stringify(live));
  for (const d of specAttempts) {
    assert.equal(d.ok, false);
    assert.equal(d.blocked, true);
    assert.equal(d.attempt, 1); // never retried
    assert.equal(d.status, undefined);
    assert.match(d.error ?? '', new RegExp(`blocked: ${host} resolves to [^,]+, a \\w+ address`));
  }
  assert.ok(live.filter((d) => d.url.endsWith('/operator')).every((d) => d.ok));
  assert.equal(received.filter((path) => path === '/spec').length, 0);
  assert.equal(received.filter((path) => path === '/operator').length, 3);

  // Retention 1 s: the sweep's keys, the delivery log included, expire after the archive.
  const keys = redisKeys(world.prefix);
  await waitFor(
    async () =>
      (await world.redis.exists(keys.sweep(sweepId), keys.sweepWebhooks(sweepId))) === 0 ||
      undefined,
    { what: "the sweep's Redis keys to expire", timeoutMs: 30_000, intervalMs: 200 },
  );
  const archived = await get(`/v1/sweeps/${sweepId}/webhooks`);
  assert.equal(archived.statusCode, 200, archived.body);
  const fromArchive = webhookDeliveriesResponseSchema.parse(archived.json());
  assert.ok(fromArchive.archivedAt !== undefined);
  assert.ok(fromArchive.deliveries.length >= 1);
  const ids = new Set(live.map((d) => `${d.id}@${d.url}#${d.attempt}`));
  for (const d of fromArchive.deliveries) assert.ok(ids.has(`${d.id}@${d.url}#${d.attempt}`));
  assert.equal((await get('/v1/sweeps/sw-0000000000/webhooks')).statusCode, 404);
});
