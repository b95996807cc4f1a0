import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULT_LOCK_DURATION_MS,
  DEFAULT_OUTAGE_BUDGET_SECONDS,
  DEFAULT_QUARANTINE_AFTER,
  loadWorkerConfig,
} from './config.js';

test('defaults fill an empty environment', () => {
  const config = loadWorkerConfig({});
  assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(config.keyPrefix, '{setrain}');
  assert.equal(config.engine, 'auto');
  assert.equal(config.lockDurationMs, DEFAULT_LOCK_DURATION_MS);
  assert.equal(config.engineThreads, undefined);
  assert.equal(config.engineKernelQueue, true);
  assert.equal(config.outageBudgetSeconds, DEFAULT_OUTAGE_BUDGET_SECONDS);
  assert.equal(config.quarantineAfter, DEFAULT_QUARANTINE_AFTER);
  assert.equal(loadWorkerConfig({ SETRAIN_ENGINE_THREADS: '' }).engineThreads, undefined);
  assert.deepEqual(config.s3, {});
  assert.ok(Object.isFrozen(config));
});

test('S3 and tuning variables are read', () => {
  const config = loadWorkerConfig({
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: 'k',
    S3_SECRET_ACCESS_KEY: 's',
    SETRAIN_ENGINE: 'wasm',
    SETRAIN_ENGINE_THREADS: '1',
    SETRAIN_ENGINE_KERNEL_QUEUE: 'false',
    SETRAIN_WORKER_ID: 'gpu-0',
    SETRAIN_LOCK_DURATION_MS: '8000',
    METRICS_PORT: '0',
    SETRAIN_OUTAGE_BUDGET_SECONDS: '45',
    SETRAIN_QUARANTINE_AFTER: '5',
  });
  assert.equal(config.outageBudgetSeconds, 45);
  assert.equal(config.quarantineAfter, 5);
  assert.equal(config.s3.endpoint, 'http://127.0.0.1:9000');
  assert.equal(config.s3.forcePathStyle, true);
  assert.equal(config.engine, 'wasm');
  assert.equal(config.engineThreads, 1);
  assert.equal(config.engineKernelQueue, false);
  assert.equal(config.workerId, 'gpu-0');
  assert.equal(config.lockDurationMs, 8000);
  assert.equal(config.metricsPort, 0);
});

test('Redis Sentinel variables become connection options; half a pair is refused', () => {
  const config = loadWorkerConfig({
    REDIS_SENTINELS: '127.0.0.1:26379,127.0.0.1:26380',
    REDIS_SENTINEL_MASTER: 'setrain',
  });
  assert.deepEqual(config.redisSentinel, {
    sentinels: [
      { host: '127.0.0.1', port: 26379 },
      { host: '127.0.0.1', port: 26380 },
    ],
    name: 'setrain',
  });
  assert.equal(loadWorkerConfig({}).redisSentinel, undefined);
  assert.throws(
    () => loadWorkerConfig({ REDIS_SENTINELS: '127.0.0.1:26379' }),
    /REDIS_SENTINEL_MASTER/,
  );
});

test('bad values are named with what is allowed', () => {
  assert.throws(
    () =>
      loadWorkerConfig({
        SETRAIN_ENGINE: 'tpu',
        SETRAIN_ENGINE_THREADS: '0',
        SETRAIN_ENGINE_KERNEL_QUEUE: 'maybe',
        REDIS_URL: 'http://x',
      }),
    (error: unknown) =>
      error instanceof Error &&
      /WORKER_CONFIG_INVALID|invalid worker configuration/.test(error.message) &&
      /SETRAIN_ENGINE: must be one of auto, /.test(error.message) &&
      /SETRAIN_ENGINE_THREADS: must be an integer from 1 to 1024/.test(error.message) &&
      /SETRAIN_ENGINE_KERNEL_QUEUE: must be one of true, false, 1, 0/.test(error.message) &&
      /REDIS_URL: must be a redis:\/\//.test(error.message),
  );
});
