// The API, the worker and the CLI parse the shared variables (Redis, S3, logging) with the same
// fragments (packages/protocol env-fragments.ts); this parses one environment in all three and
// compares what they understood.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadConfig } from '@setrain/api';
import { loadCliConfig } from '@setrain/cli';
import { loadWorkerConfig } from '@setrain/worker';

const REQUIRED_BY_API = {
  SETRAIN_API_KEYS: 'k'.repeat(32),
  SETRAIN_ARTIFACTS_BUCKET: 'setrain-artifacts',
};

async function parseInAll(env: Record<string, string>) {
  const api = loadConfig({ ...REQUIRED_BY_API, ...env });
  const worker = loadWorkerConfig(env);
  // An explicit missing config file would be an error; point at none that exists.
  const cli = await loadCliConfig({
    flags: {},
    env: { ...env, XDG_CONFIG_HOME: '/nonexistent-setrain-config-home' },
  });
  return { api, worker, cli };
}

const CASES: { name: string; env: Record<string, string> }[] = [
  {
    name: 'path style 0 with an endpoint',
    env: { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: '0', S3_REGION: 'eu-west-1' },
  },
  { name: 'path style 1 without an endpoint', env: { S3_FORCE_PATH_STYLE: '1' } },
  { name: 'empty endpoint means unset', env: { S3_ENDPOINT: '  ', S3_REGION: '' } },
  {
    name: 'credentials and trimmed values',
    env: {
      S3_ENDPOINT: ' http://minio:9000 ',
      S3_ACCESS_KEY_ID: 'AKIA',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
    },
  },
  { name: 'nothing set', env: {} },
];

for (const { name, env } of CASES) {
  test(`API, worker and CLI read the same S3 settings: ${name}`, async () => {
    const { api, worker, cli } = await parseInAll(env);
    assert.deepEqual({ ...api.s3 }, { ...worker.s3 });
    assert.deepEqual({ ...cli.s3 }, { ...api.s3 });
  });
}

test('API and worker read the same Redis and logging settings', async () => {
  const env = {
    REDIS_URL: 'redis://127.0.0.1:7000/2',
    REDIS_SENTINELS: 's1:26379, s2:26380',
    REDIS_SENTINEL_MASTER: 'setrain',
    SETRAIN_KEY_PREFIX: '{t}',
    LOG_LEVEL: 'debug',
  };
  const { api, worker } = await parseInAll(env);
  const shared = (c: typeof api | typeof worker) => ({
    redisUrl: c.redisUrl,
    redisSentinel: c.redisSentinel,
    keyPrefix: c.keyPrefix,
    logLevel: c.logLevel,
  });
  assert.deepEqual(shared(api), shared(worker));
  assert.equal(api.logLevel, 'debug');
});

test('a bad shared value is refused by all three, naming the variable and the allowed values', async () => {
  const env = { S3_FORCE_PATH_STYLE: 'yes' };
  assert.throws(() => loadConfig({ ...REQUIRED_BY_API, ...env }), /S3_FORCE_PATH_STYLE/);
  assert.throws(
    () => loadWorkerConfig(env),
    /S3_FORCE_PATH_STYLE: must be one of true, false, 1, 0/,
  );
  await assert.rejects(
    loadCliConfig({ flags: {}, env: { ...env, XDG_CONFIG_HOME: '/nonexistent' } }),
    /S3_FORCE_PATH_STYLE: must be one of true, false, 1, 0/,
  );
  for (const level of ['verbose', 'warning']) {
    assert.throws(() => loadConfig({ ...REQUIRED_BY_API, LOG_LEVEL: level }), /LOG_LEVEL/);
    assert.throws(() => loadWorkerConfig({ LOG_LEVEL: level }), /LOG_LEVEL/);
  }
});
