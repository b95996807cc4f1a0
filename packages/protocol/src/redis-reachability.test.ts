import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';

import {
  REDIS_AUTH_HINT,
  REDIS_UNREACHABLE_HINT,
  redisTargetOf,
  watchRedisReachability,
} from './redis-reachability.js';

interface Line {
  level: 'warn' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}

function recorder(): { lines: Line[]; log: { warn: Log; info: Log } } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']): Log =>
    (obj, msg) => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { lines, log: { warn: at('warn'), info: at('info') } };
}
type Log = (obj: object, msg: string) => void;

test('redisTargetOf names the URL without credentials, or the sentinels and master', () => {
  assert.equal(
    redisTargetOf('redis://user:secret@redis.internal:6380/2'),
    'redis://redis.internal:6380/2',
  );
  assert.equal(redisTargetOf('redis://:secret@127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.equal(
    redisTargetOf('redis://:pw@ignored:6379', {
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
    }),
    'sentinels s1:26379,s2:26380 (master mymaster)',
  );
  assert.equal(redisTargetOf('not a url'), 'an unparseable REDIS_URL');
});

test('failures are logged at once, then at most once per interval with the count not logged, and the recovery once', () => {
  const client = new EventEmitter();
  const { lines, log } = recorder();
  let now = 1_000;
  const stop = watchRedisReachability(client, {
    target: 'redis://127.0.0.1:6379',
    connection: 'api',
    log,
    intervalMs: 10_000,
    now: () => now,
  });
  const fail = (): void => {
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  };
  fail();
  now += 2_000;
  fail();
  now += 2_000;
  fail();
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0], {
    level: 'warn',
    msg: 'Redis unreachable',
    obj: {
      redis: 'redis://127.0.0.1:6379',
      connection: 'api',
      error: 'connect ECONNREFUSED 127.0.0.1:6379',
      failingForS: 0,
      hint: REDIS_UNREACHABLE_HINT,
    },
  });
  now += 6_000; // 10 s after the first line
  fail();
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.obj['failingForS'], 10);
  assert.equal(lines[1]?.obj['failuresNotLogged'], 2);

  now += 3_000;
  client.emit('ready');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[2], {
    level: 'info',
    msg: 'Redis answers again',
    obj: { redis: 'redis://127.0.0.1:6379', connection: 'api', unreachableForS: 13 },
  });
  // A ready without failures before it (a plain reconnect) says nothing.
  client.emit('ready');
  assert.equal(lines.length, 3);
  // The next outage is logged at once again.
  now += 1_000;
  fail();
  assert.equal(lines.length, 4);
  assert.equal(lines[3]?.obj['failingForS'], 0);

  stop();
  assert.equal(client.listenerCount('error'), 0);
  assert.equal(client.listenerCount('ready'), 0);
});

test('a refused password is named as such, with where to fix it', () => {
  const client = new EventEmitter();
  const { lines, log } = recorder();
  watchRedisReachability(client, { target: 'redis://127.0.0.1:6379', connection: 'state', log });
  client.emit('error', new Error('WRONGPASS invalid username-password pair or user is disabled.'));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.msg, 'Redis refused the credentials');
  assert.equal(lines[0]?.obj['hint'], REDIS_AUTH_HINT);
});
