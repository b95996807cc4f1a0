/**
 * The API and a worker started while Redis is unreachable (behind a proxy that refuses
 * connections): neither exits (the API used to, with ioredis' bare "Connection is closed."), both
 * log a structured "Redis unreachable" warning that names the Redis and says what to do (not
 * ioredis' "Unhandled error event" at every retry), and both carry on once it answers: the API
 * builds, listens and turns ready; the worker starts and registers its heartbeat. A wrong
 * password is named as such, with where to fix it, and never logged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { redisKeys } from '@setrain/protocol';
import { Redis } from 'ioredis';

import {
  API_MAIN,
  freePort,
  s3EnvOf,
  startNodeService,
  startOutageProxy,
  startRedis,
  startS3,
  WORKER_MAIN,
  tempDir,
  uniqueName,
  waitFor,
  type OutageProxy,
  type RedisServer,
  type S3Server,
  type ServiceProcess,
  type TempDir,
} from './harness/index.js';

const API_KEY = 'late-redis-key-0123456789abcdef0123';

let redisServer: RedisServer;
let proxy: OutageProxy;
let s3: S3Server;
let work: TempDir;
const services: ServiceProcess[] = [];

before(async () => {
  redisServer = await startRedis();
  proxy = await startOutageProxy(redisServer.port);
  await proxy.down();
  s3 = await startS3();
  work = await tempDir('late-redis');
});

after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await proxy.stop();
  await redisServer.stop();
  await s3.stop();
  await work.cleanup();
});

function startMain(name: string, main: string, env: Record<string, string>): ServiceProcess {
  const service = startNodeService(name, main, env);
  services.push(service);
  return service;
}

/** The JSON log lines a service printed with this message. */
function logLines(service: ServiceProcess, msg: string): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['msg'] === msg);
}

async function waitForLog(service: ServiceProcess, msg: string, count = 1): Promise<void> {
  await waitFor(
    () => {
      if (service.exit() !== undefined) {
        throw new Error(`${service.name} exited:\n${service.output()}`);
      }
      return logLines(service, msg).length >= count;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${count} "${msg}" line(s) from ${service.name}` },
  );
}

test('the API and a worker started before Redis wait for it, say why, and start once it answers', async () => {
  const redisUrl = `redis://127.0.0.1:${proxy.port}`;
  const s3Env = s3EnvOf(s3);
  const prefix = `{${uniqueName('late')}}`;
  const apiPort = await freePort();
  const api = startMain('api', API_MAIN, {
    ...s3Env,
    REDIS_URL: redisUrl,
    SETRAIN_KEY_PREFIX: prefix,
    SETRAIN_ARTIFACTS_BUCKET: await s3.createBucket(),
    SETRAIN_API_KEYS: API_KEY,
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    LOG_LEVEL: 'info',
  });
  const worker = startMain('worker', WORKER_MAIN, {
    ...s3Env,
    REDIS_URL: redisUrl,
    SETRAIN_KEY_PREFIX: prefix,
    SETRAIN_ENGINE: 'cpu',
    SETRAIN_WORKER_ID: 'late-worker',
    SETRAIN_CACHE_DIR: join(work.path, 'cache'),
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  });

  // Down: one warning per connection (the worker has three), naming the Redis and the fix.
  await waitForLog(api, 'Redis unreachable');
  await waitForLog(worker, 'Redis unreachable', 3);
  for (const service of [api, worker]) {
    for (const line of logLines(service, 'Redis unreachable')) {
      assert.equal(line['redis'], redisUrl);
      assert.match(String(line['error']), /ECONNREFUSED/);
      assert.match(String(line['hint']), /start Redis, or point REDIS_URL/);
    }
  }
  assert.deepEqual(
    logLines(worker, 'Redis unreachable')
      .map((line) => line['connection'])
      .sort(),
    ['bullmq', 'control', 'state'],
  );
  const readyz = (): Promise<number | undefined> =>
    fetch(`http://127.0.0.1:${apiPort}/readyz`).then(
      (response) => response.status,
      () => undefined,
    );
  assert.equal(await readyz(), undefined, 'the API does not listen before Redis answers');

  await proxy.up();
  await waitFor(async () => (await readyz()) === 200, {
    timeoutMs: 30_000,
    what: 'the API to be ready',
  });
  await waitForLog(worker, 'worker started');
  assert.equal(logLines(api, 'Redis answers again').length, 1);
  assert.equal(logLines(worker, 'Redis answers again').length, 3);
  const redis = new Redis(redisServer.url);
  try {
    const workers = await redis.hkeys(redisKeys(prefix).workers);
    assert.deepEqual(workers, ['late-worker']);
  } finally {
    redis.disconnect();
  }
  for (const service of [api, worker]) {
    assert.equal(service.exit(), undefined, `${service.name} is still running`);
    assert.doesNotMatch(service.output(), /Unhandled error event/);
  }
});

test('an API given the wrong Redis password says so, and where to fix it, instead of exiting', async () => {
  // A user of its own (the default user, which the harness and the other test use, stays open).
  const admin = new Redis(redisServer.url);
  await admin.acl('SETUSER', 'late-user', 'on', '>the-right-one', '~*', '&*', '+@all');
  admin.disconnect();
  const api = startMain('api-wrong-password', API_MAIN, {
    ...s3EnvOf(s3),
    REDIS_URL: `redis://late-user:not-the-right-one@127.0.0.1:${redisServer.port}`,
    SETRAIN_ARTIFACTS_BUCKET: await s3.createBucket(),
    SETRAIN_API_KEYS: API_KEY,
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    LOG_LEVEL: 'info',
  });
  await waitForLog(api, 'Redis refused the credentials');
  const [line] = logLines(api, 'Redis refused the credentials');
  assert.equal(line?.['redis'], `redis://127.0.0.1:${redisServer.port}`, 'no credentials logged');
  assert.match(String(line?.['error']), /WRONGPASS/);
  assert.match(String(line?.['hint']), /check the user name and password in REDIS_URL/);
  assert.doesNotMatch(api.output(), /not-the-right-one/);
  assert.equal(api.exit(), undefined);
  await api.stop();
});
