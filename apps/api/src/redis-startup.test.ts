import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';

import { Redis } from 'ioredis';

import { connectWhenReachable } from './redis-startup.js';

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

test('rejects, instead of waiting forever, when ioredis gives up on an unreachable Redis', async () => {
  const redis = new Redis(await closedPort(), '127.0.0.1', {
    lazyConnect: true,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  await assert.rejects(connectWhenReachable(redis), /closed before Redis answered/);
  assert.equal(redis.status, 'end');
});
