// The stall credit of a worker that lost its job lock (apps/worker/src/job-holder/stall-credit.ts)
// against a real redis-server and BullMQ: a job whose holder stopped renewing its lock is moved
// back to the queue by BullMQ's stall check; with maxStalledCount 1 (SETRAIN_MAX_STALLED_COUNT) two
// uncredited stalls fail the job when it is taken next, credited ones do not, whichever of the
// credit and the stall check runs first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { creditStall } from '@setrain/worker';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

import { startRedis, uniqueName, waitFor, type RedisServer } from './harness/index.js';

const QUEUE = 'stall-credit';
const LOCK_MS = 300;

let redisServer: RedisServer;

before(async () => {
  redisServer = await startRedis();
});
after(async () => {
  await redisServer.stop();
});

type Order = 'none' | 'credit-first' | 'stall-first';

/**
 * Two rounds of: a worker takes the job and stops renewing its lock (it expires after LOCK_MS),
 * BullMQ's stall check (maxStalledCount 1) moves the job back, and the stall is credited (or not,
 * `none`) before the lock expires (`credit-first`) or once the job is back (`stall-first`). Then a
 * worker takes the job again; returns the failure BullMQ deferred to that take, if any.
 */
async function twoLostLocks(order: Order): Promise<string | undefined> {
  const connection = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const prefix = `{${uniqueName('stall-credit')}}`;
  const queue = new Queue(QUEUE, { connection, prefix });
  const checker = new Worker(QUEUE, null, {
    connection,
    prefix,
    stalledInterval: 100,
    maxStalledCount: 1,
    autorun: false,
  });
  try {
    await queue.add('trial', { n: 1 }, { jobId: 'sw-x.1', attempts: 3 });
    const jobKey = queue.toKey('sw-x.1');
    await checker.startStalledCheckTimer();
    for (let round = 1; round <= 2; round++) {
      const holder = new Worker(QUEUE, null, {
        connection,
        prefix,
        lockDuration: LOCK_MS,
        autorun: false,
      });
      const taken = await holder.getNextJob(`holder-${round}`);
      assert.equal(taken?.id, 'sw-x.1');
      await holder.close(true); // never renews again
      if (order === 'credit-first') assert.equal(await creditStall(connection, jobKey), true);
      await waitFor(async () => (await queue.getJobState('sw-x.1')) === 'waiting', {
        what: `the stall check to move the job back (round ${round})`,
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      if (order === 'stall-first') assert.equal(await creditStall(connection, jobKey), true);
    }
    const again = await checker.getNextJob('checker-token');
    assert.equal(again?.id, 'sw-x.1');
    return again.deferredFailure;
  } finally {
    await checker.close(true);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

test('without the credit, two lost locks exceed maxStalledCount 1 and the job is failed', async () => {
  assert.equal(await twoLostLocks('none'), 'job stalled more than allowable limit');
});

test('credited lost locks do not count, whether the credit runs before or after the check', async () => {
  assert.equal(await twoLostLocks('credit-first'), undefined);
  assert.equal(await twoLostLocks('stall-first'), undefined);
});
