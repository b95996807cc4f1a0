// Keys with names, scopes and ownership against a real API (buildApp on real redis-server and
// s3rver): a key without admin sees and changes only its own sweeps (403 FORBIDDEN otherwise),
// read keys change nothing, every submit/cancel/pause/resume/patch leaves an audit log line, and a
// keys file reloads on SIGHUP without a restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';

import { ApiKeyVerifier, readKeys, watchKeys, type ApiApp } from '@setrain/api';
import { listSweepsResponseSchema, sweepDetailSchema } from '@setrain/protocol';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, waitFor, type RedisServer, type S3Server } from './harness/index.js';
import { errorOf } from './security-probe.js';

const KEYS = {
  alice: 'alice-key-0123456789abcdef',
  bob: 'bob-key-0123456789abcdef',
  reader: 'reader-key-0123456789abcdef',
  root: 'root-key-0123456789abcdef',
  env: 'env-admin-key-0123456789',
};
const keysYaml = (aliceKey: string) => `keys:
  - { name: alice, key: ${aliceKey}, scopes: [submit] }
  - { name: bob, key: ${KEYS.bob}, scopes: [read, submit] }
  - { name: reader, key: ${KEYS.reader}, scopes: [read] }
  - { name: root, key: ${KEYS.root}, scopes: [admin] }
`;

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let app: ApiApp;
let dir: string;
let keysFile: string;
let stopWatching: () => void;
const logLines: Record<string, unknown>[] = [];

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  dir = await mkdtemp(join(tmpdir(), 'setrain-keys-'));
  keysFile = join(dir, 'keys.yaml');
  await writeFile(keysFile, keysYaml(KEYS.alice));
  const verifier = new ApiKeyVerifier(readKeys(keysFile, [KEYS.env]));
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  world = await createApiWorld({
    redisServer,
    s3,
    label: 'security-keys',
    apiKeys: [],
    appDeps: { verifier, logger: { level: 'info', stream } },
  });
  app = await world.app();
  stopWatching = watchKeys(verifier, keysFile, [KEYS.env], app.log, {
    signal: 'SIGUSR2',
    pollMs: 200,
  });
});
after(async () => {
  stopWatching();
  await world.close();
  await Promise.all([redisServer.stop(), s3.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function as(key: string, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload !== undefined ? { payload } : {}),
  });
}

function spec(): object {
  return {
    dataset: world.dataset,
    training: { epochs: 1, batchSize: 2 },
    search: { parameters: { dropout: [0.1, 0.2] } },
    parallelism: 1,
  };
}

test('keys without admin see and change only their own sweeps; read keys change nothing', async () => {
  const created = await as(KEYS.alice, 'POST', '/v1/sweeps', spec());
  assert.equal(created.statusCode, 201, created.body);
  const sweep = sweepDetailSchema.parse(created.json());

  assert.equal((await as(KEYS.alice, 'GET', `/v1/sweeps/${sweep.id}`)).statusCode, 200);
  assert.equal((await as(KEYS.root, 'GET', `/v1/sweeps/${sweep.id}`)).statusCode, 200);
  assert.equal((await as(KEYS.env, 'GET', `/v1/sweeps/${sweep.id}`)).statusCode, 200);
  for (const [key, method, url, payload] of [
    [KEYS.bob, 'GET', `/v1/sweeps/${sweep.id}`],
    [KEYS.bob, 'GET', `/v1/trials/${sweep.id}.1`],
    [KEYS.bob, 'GET', `/v1/trials/${sweep.id}.1/artifacts`],
    [KEYS.bob, 'GET', `/v1/trials/${sweep.id}.1/artifacts/download?path=trial.json`],
    [KEYS.bob, 'POST', `/v1/sweeps/${sweep.id}/cancel`, {}],
    [KEYS.bob, 'POST', `/v1/sweeps/${sweep.id}/pause`],
    [KEYS.bob, 'PATCH', `/v1/sweeps/${sweep.id}`, { parallelism: 2 }],
    [KEYS.bob, 'GET', `/v1/sweeps/${sweep.id}/best`],
    [KEYS.reader, 'GET', `/v1/sweeps/${sweep.id}`],
    [KEYS.reader, 'POST', '/v1/sweeps', spec()],
    [KEYS.reader, 'POST', `/v1/sweeps/${sweep.id}/cancel`, {}],
  ] as const) {
    const response = await as(key, method, url, payload);
    assert.equal(response.statusCode, 403, `${method} ${url}: ${response.body}`);
    assert.equal(errorOf(response.body).code, 'FORBIDDEN');
  }

  const bobs = listSweepsResponseSchema.parse((await as(KEYS.bob, 'GET', '/v1/sweeps')).json());
  assert.equal(bobs.total, 0);
  const alices = listSweepsResponseSchema.parse((await as(KEYS.alice, 'GET', '/v1/sweeps')).json());
  assert.deepEqual(
    alices.sweeps.map((s) => [s.id, s.submitter]),
    [[sweep.id, 'alice']],
  );
  // The submitter is the key's name, never the key.
  assert.ok(!JSON.stringify(alices).includes(KEYS.alice));

  assert.equal((await as(KEYS.alice, 'POST', `/v1/sweeps/${sweep.id}/pause`)).statusCode, 200);
  assert.equal((await as(KEYS.alice, 'POST', `/v1/sweeps/${sweep.id}/resume`)).statusCode, 200);
  const patch = await as(KEYS.alice, 'PATCH', `/v1/sweeps/${sweep.id}`, { parallelism: 2 });
  assert.equal(patch.statusCode, 200, patch.body);
  assert.equal((await as(KEYS.root, 'POST', `/v1/sweeps/${sweep.id}/cancel`, {})).statusCode, 200);

  const audit = logLines.filter((line) => line['audit'] === true);
  const summary = audit.map(
    (l) => `${String(l['action'])} ${String(l['key'])} ${String(l['statusCode'])}`,
  );
  for (const expected of [
    'submit alice 201',
    'cancel bob 403',
    'pause bob 403',
    'patch bob 403',
    'submit reader 403',
    'pause alice 200',
    'resume alice 200',
    'patch alice 200',
    'cancel root 200',
  ]) {
    assert.ok(summary.includes(expected), `${expected} not in ${summary.join(', ')}`);
  }
  assert.ok(audit.every((line) => line['sweepId'] === sweep.id || line['key'] === 'reader'));
  // Audit lines never carry a key itself.
  assert.ok(!JSON.stringify(logLines).includes(KEYS.alice));
});

test("warmStart may name only the key's own sweeps (403 FORBIDDEN for another key's)", async () => {
  const alices = await as(KEYS.alice, 'POST', '/v1/sweeps', spec());
  assert.equal(alices.statusCode, 201, alices.body);
  const bobs = await as(KEYS.bob, 'POST', '/v1/sweeps', spec());
  assert.equal(bobs.statusCode, 201, bobs.body);
  const alicesId = sweepDetailSchema.parse(alices.json()).id;
  const bobsId = sweepDetailSchema.parse(bobs.json()).id;
  const warmFrom = (ids: string[]) => ({ ...spec(), warmStart: { sweeps: ids } });

  const refused = await as(KEYS.bob, 'POST', '/v1/sweeps', warmFrom([bobsId, alicesId]));
  assert.equal(refused.statusCode, 403, refused.body);
  const error = errorOf(refused.body);
  assert.equal(error.code, 'FORBIDDEN');
  assert.deepEqual(
    error.issues?.map((issue) => issue.path),
    ['warmStart.sweeps[1]'],
  );
  assert.match(error.message, new RegExp(`sweep ${alicesId} was submitted by another key`));
  // Nothing was stored for the refused spec.
  const listed = listSweepsResponseSchema.parse((await as(KEYS.bob, 'GET', '/v1/sweeps')).json());
  assert.deepEqual(
    listed.sweeps.map((s) => s.id),
    [bobsId],
  );

  const own = await as(KEYS.bob, 'POST', '/v1/sweeps', warmFrom([bobsId]));
  assert.equal(own.statusCode, 201, own.body);
  const admin = await as(KEYS.root, 'POST', '/v1/sweeps', warmFrom([alicesId, bobsId]));
  assert.equal(admin.statusCode, 201, admin.body);
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

// SIGUSR2 stands in for SIGHUP (the same handler): the test harness stops its services on SIGHUP.
test('a rotated keys file takes effect without a restart (file change, signal)', async () => {
  const rotated = 'alice-rotated-key-0123456789';
  await writeFile(keysFile, keysYaml(rotated));
  await waitFor(async () => (await as(rotated, 'GET', '/v1/sweeps')).statusCode === 200, {
    timeoutMs: 10_000,
    what: 'the rotated key to work',
  });
  assert.equal((await as(KEYS.alice, 'GET', '/v1/sweeps')).statusCode, 401);
  // A broken file keeps the keys in force.
  await writeFile(keysFile, 'keys: [{ name: "bad name!", key: short, scopes: [root] }]\n');
  process.kill(process.pid, 'SIGUSR2');
  await waitFor(
    () => logLines.some((line) => String(line['msg']).includes('API keys not reloaded')),
    { timeoutMs: 10_000, what: 'the reload error' },
  );
  assert.equal((await as(rotated, 'GET', '/v1/sweeps')).statusCode, 200);
});
