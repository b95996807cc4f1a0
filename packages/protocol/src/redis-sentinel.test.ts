import assert from 'node:assert/strict';
import { test } from 'node:test';

import { z } from 'zod';

import {
  redisSentinelEnvShape,
  redisSentinelOptions,
  requireSentinelPair,
} from './redis-sentinel.js';

const schema = z.object(redisSentinelEnvShape).superRefine(requireSentinelPair);

function issues(env: Record<string, string>): string[] {
  const result = schema.safeParse(env);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('sentinel addresses and master name become ioredis options', () => {
  const env = schema.parse({
    REDIS_SENTINELS: ' s1:26379, 10.0.0.2:26380,[::1]:26381 ',
    REDIS_SENTINEL_MASTER: 'setrain',
  });
  assert.deepEqual(redisSentinelOptions(env), {
    sentinels: [
      { host: 's1', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: '::1', port: 26381 },
    ],
    name: 'setrain',
  });
});

test('unset or empty variables mean no Sentinel (REDIS_URL alone)', () => {
  assert.equal(redisSentinelOptions(schema.parse({})), undefined);
  assert.equal(
    redisSentinelOptions(schema.parse({ REDIS_SENTINELS: '', REDIS_SENTINEL_MASTER: ' ' })),
    undefined,
  );
});

test('bad addresses and a half-set pair are named', () => {
  assert.match(
    issues({ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'm' })[0] ?? '',
    /^REDIS_SENTINELS: .*host:port/,
  );
  assert.match(
    issues({ REDIS_SENTINELS: 's1:0', REDIS_SENTINEL_MASTER: 'm' })[0] ?? '',
    /host:port/,
  );
  assert.match(
    issues({ REDIS_SENTINELS: 's1:26379' })[0] ?? '',
    /^REDIS_SENTINEL_MASTER: is required/,
  );
  assert.match(issues({ REDIS_SENTINEL_MASTER: 'm' })[0] ?? '', /^REDIS_SENTINELS: is required/);
});
