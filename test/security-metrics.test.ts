// /metrics against a real API (buildApp on real redis-server and s3rver, listening on 127.0.0.1):
// without a token it carries aggregates only, never a sweep id; SETRAIN_METRICS_TOKEN adds the
// per-sweep series; a wrong token (or any token when none is configured) answers 401.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { sweepDetailSchema } from '@setrain/protocol';

import { createApiWorld, writeFinishedTrial, type ApiWorld } from './api-world.js';
import { startRedis, startS3, waitFor, type RedisServer, type S3Server } from './harness/index.js';
import { errorOf, listen } from './security-probe.js';

const API_KEY = 'security-metrics-key-0123456789';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

let redisServer: RedisServer;
let s3: S3Server;
let withToken: ApiWorld;
let withoutToken: ApiWorld;
let base: string;
let baseWithoutToken: string;
let sweepId: string;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  const world = (label: string, metricsToken?: string) =>
    createApiWorld({
      redisServer,
      s3,
      label,
      apiKeys: [API_KEY],
      ...(metricsToken !== undefined ? { appDeps: { metricsToken } } : {}),
    });
  [withToken, withoutToken] = await Promise.all([
    world('security-metrics', METRICS_TOKEN),
    world('security-metrics-none'),
  ]);
  base = await listen(await withToken.app());
  baseWithoutToken = await listen(await withoutToken.app());
  // A sweep whose first trial finished with an objective: it has a best-objective series.
  const worker = withToken.worker((job) =>
    writeFinishedTrial(s3.client, withToken.bucket, job.data, 0.25),
  );
  const created = await fetch(`${base}/v1/sweeps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ dataset: withToken.dataset, training: { epochs: 1, batchSize: 2 } }),
  });
  assert.equal(created.status, 201);
  sweepId = sweepDetailSchema.parse(await created.json()).id;
  await waitFor(async () => (await scrape(base, METRICS_TOKEN)).text.includes(sweepId), {
    timeoutMs: 30_000,
    what: 'the finished trial in the per-sweep series',
  });
  await worker.close();
});
after(async () => {
  await Promise.all([withToken.close(), withoutToken.close()]);
  await Promise.all([redisServer.stop(), s3.stop()]);
});

async function scrape(url: string, token?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
}

test('the token adds the per-sweep series; without it no series names a sweep', async () => {
  const detailed = await scrape(base, METRICS_TOKEN);
  assert.equal(detailed.status, 200);
  const series = new RegExp(`^setrain_sweep_best_objective\\{sweep="${sweepId}"\\} 0.25$`, 'm');
  assert.ok(series.test(detailed.text), 'the per-sweep series is served with the token');

  const open = await scrape(base);
  assert.equal(open.status, 200);
  assert.match(open.text, /^setrain_sweeps\{status="running"\}/m);
  assert.ok(!open.text.includes(sweepId), 'an unauthenticated scrape names no sweep');
  assert.doesNotMatch(open.text, /sweep="/);
});

test('a wrong token, or a token when none is configured, answers 401; /healthz stays up', async () => {
  for (const [url, token] of [
    [base, 'not-the-metrics-token-0123'],
    [base, API_KEY],
    [baseWithoutToken, METRICS_TOKEN],
  ] as const) {
    const answer = await scrape(url, token);
    assert.equal(answer.status, 401, answer.text);
    assert.equal(errorOf(answer.text).code, 'UNAUTHORIZED');
  }
  const open = await scrape(baseWithoutToken);
  assert.equal(open.status, 200);
  assert.doesNotMatch(open.text, /sweep="/);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});
