import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConfigError } from './config-error.js';
import { DEFAULT_BODY_LIMIT_BYTES, loadConfig } from './config.js';

const BASE = {
  SETRAIN_API_KEYS: 'first-key-0123456789, second-key-0123456789',
  SETRAIN_ARTIFACTS_BUCKET: 'setrain-artifacts',
};

test('config parses keys, defaults and S3 settings, and is frozen', () => {
  const config = loadConfig({
    ...BASE,
    PORT: '9000',
    S3_ENDPOINT: 'http://127.0.0.1:9001',
    S3_FORCE_PATH_STYLE: 'true',
  });
  assert.deepEqual(config.apiKeys, ['first-key-0123456789', 'second-key-0123456789']);
  assert.equal(config.port, 9000);
  assert.equal(config.keyPrefix, '{setrain}');
  assert.equal(config.bodyLimitBytes, DEFAULT_BODY_LIMIT_BYTES);
  assert.deepEqual(config.s3, { endpoint: 'http://127.0.0.1:9001', forcePathStyle: true });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.apiKeys));
});

test('config errors name every bad variable', () => {
  assert.throws(
    () => loadConfig({ SETRAIN_API_KEYS: ' , ', PORT: 'x', S3_FORCE_PATH_STYLE: 'yes' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const variables = error.issues.map((i) => i.variable).sort();
      assert.deepEqual(variables, [
        'PORT',
        'S3_FORCE_PATH_STYLE',
        'SETRAIN_API_KEYS',
        'SETRAIN_ARTIFACTS_BUCKET',
      ]);
      assert.match(error.message, /SETRAIN_API_KEYS must list at least one API key/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ ...BASE, SETRAIN_API_KEYS: 'short' }), /at least 16 characters/);
});

test('config reads Redis Sentinel addresses and master name, both or neither', () => {
  const config = loadConfig({
    ...BASE,
    REDIS_SENTINELS: '127.0.0.1:26379',
    REDIS_SENTINEL_MASTER: 'setrain',
  });
  assert.deepEqual(config.redisSentinel, {
    sentinels: [{ host: '127.0.0.1', port: 26379 }],
    name: 'setrain',
  });
  assert.equal(loadConfig(BASE).redisSentinel, undefined);
  assert.throws(() => loadConfig({ ...BASE, REDIS_SENTINEL_MASTER: 'setrain' }), /REDIS_SENTINELS/);
});

test('webhook settings: URLs need a secret; defaults for attempts and backoff', () => {
  assert.deepEqual(loadConfig(BASE).webhooks, {
    urls: [],
    secret: undefined,
    attempts: 5,
    backoffMs: 2000,
    allowedNetworks: [],
  });
  assert.throws(
    () => loadConfig({ ...BASE, SETRAIN_WEBHOOK_URLS: 'https://hooks.example.com/a' }),
    /SETRAIN_WEBHOOK_SECRET must be set .* when SETRAIN_WEBHOOK_URLS lists URLs/,
  );
  assert.throws(
    () =>
      loadConfig({
        ...BASE,
        SETRAIN_WEBHOOK_URLS: 'ftp://x/y',
        SETRAIN_WEBHOOK_SECRET: 's'.repeat(16),
      }),
    /SETRAIN_WEBHOOK_URLS.*must be an http:\/\/ or https:\/\/ URL/,
  );
  const config = loadConfig({
    ...BASE,
    SETRAIN_WEBHOOK_URLS: 'https://a.example/h, http://b.example/h',
    SETRAIN_WEBHOOK_SECRET: 's'.repeat(16),
  });
  assert.deepEqual(config.webhooks.urls, ['https://a.example/h', 'http://b.example/h']);
  assert.deepEqual(
    loadConfig({ ...BASE, SETRAIN_WEBHOOK_ALLOWED_NETWORKS: ' 127.0.0.1/32, ::1 ,10.0.0.0/8' })
      .webhooks.allowedNetworks,
    ['127.0.0.1/32', '::1', '10.0.0.0/8'],
  );
  assert.throws(
    () => loadConfig({ ...BASE, SETRAIN_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8,intranet' }),
    /SETRAIN_WEBHOOK_ALLOWED_NETWORKS.*"intranet" is not an IP address or CIDR network/,
  );
});
