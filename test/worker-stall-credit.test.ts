// The stall credit of a worker that lost its job lock (apps/worker/src/job-holder/stall-credit.ts)
// against a real redis-server and BullMQ: a job whose holder stopped renewing its lock is moved
// back to the queue by BullMQ's stall check; with maxStalledCount 1 (SETRAIN_MAX_STALLED_COUNT) two
// uncredited stalls fail the job when it is taken next, credited ones do not, whichever of the
// credit and the stall check runs first. And the credit of a lost lock whose give-back move was
// already queued (creditLostLock): no credit when the move lands before the lock expires (Redis
// back at 80-100% of the lock, simulated with CLIENT PAUSE), a credit when it fails.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { setTimeout as sleep } from 'node:timers/promises';

import { creditLostLock, creditStall } from '@setrain/worker';
import { Queue, Worker, type WorkerOptions } from 'bullmq';
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

/** A queue holding one job, on its own prefix, and the workers a test makes on it. */
interface StallQueue {
  connection: Redis;
  queue: Queue;
  /** The job's hash key. */
  jobKey: string;
  /** A worker that takes jobs by hand (getNextJob) and holds their lock for `lockDuration` ms. */
  holder(lockDuration: number): Worker;
  /** A worker whose stall check (once started) runs every 100 ms with maxStalledCount 1. */
  checker(): Worker;
}

/** Runs `use` on a fresh queue holding job `jobId` (3 attempts); closes everything after. */
async function withStallQueue<T>(
  label: string,
  jobId: string,
  use: (q: StallQueue) => Promise<T>,
): Promise<T> {
  const connection = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const prefix = `{${uniqueName(label)}}`;
  const queue = new Queue(QUEUE, { connection, prefix });
  const workers: Worker[] = [];
  const worker = (options: Partial<WorkerOptions>): Worker => {
    const made = new Worker(QUEUE, null, { connection, prefix, autorun: false, ...options });
    workers.push(made);
    return made;
  };
  try {
    await queue.add('trial', { n: 1 }, { jobId, attempts: 3 });
    return await use({
      connection,
      queue,
      jobKey: queue.toKey(jobId),
      holder: (lockDuration) => worker({ lockDuration }),
      checker: () => worker({ stalledInterval: 100, maxStalledCount: 1 }),
    });
  } finally {
    for (const made of workers.reverse()) await made.close(true);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

type Order = 'none' | 'credit-first' | 'stall-first';

/**
 * Two rounds of: a worker takes the job and stops renewing its lock (it expires after LOCK_MS),
 * BullMQ's stall check (maxStalledCount 1) moves the job back, and the stall is credited (or not,
 * `none`) before the lock expires (`credit-first`) or once the job is back (`stall-first`). Then a
 * worker takes the job again; returns the failure BullMQ deferred to that take, if any.
 */
async function twoLostLocks(order: Order): Promise<string | undefined> {
  return withStallQueue(
    'stall-credit',
    'sw-x.1',
    async ({ connection, queue, jobKey, ...make }) => {
      const checker = make.checker();
      await checker.startStalledCheckTimer();
      for (let round = 1; round <= 2; round++) {
        const holder = make.holder(LOCK_MS);
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
    },
  );
}

test('without the credit, two lost locks exceed maxStalledCount 1 and the job is failed', async () => {
  assert.equal(await twoLostLocks('none'), 'job stalled more than allowable limit');
});

test('credited lost locks do not count, whether the credit runs before or after the check', async () => {
  assert.equal(await twoLostLocks('credit-first'), undefined);
  assert.equal(await twoLostLocks('stall-first'), undefined);
});

/** A lock long enough that CLIENT PAUSE can end at ~85% of it on a loaded machine. */
const PAUSE_LOCK_MS = 2000;
const PAUSE_MS = 1700;

/**
 * A worker holds the job; Redis stops answering (CLIENT PAUSE ALL) and, meanwhile, the holder
 * sends its give-back move (to delayed) and the lost lock's credit through `credit`; Redis answers
 * again at 85% of the lock, so the move lands. Returns the job's state and its stall counter.
 */
async function moveLandsBeforeExpiry(
  credit: (connection: Redis, jobKey: string, move: Promise<unknown>) => Promise<unknown>,
): Promise<{ state: string; stalls: number }> {
  const admin = new Redis(redisServer.url);
  try {
    return await withStallQueue(
      'stall-move',
      'sw-y.1',
      async ({ connection, queue, jobKey, ...make }) => {
        const job = await make.holder(PAUSE_LOCK_MS).getNextJob('holder-token');
        assert.equal(job?.id, 'sw-y.1');
        await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
        const move = job.moveToDelayed(Date.now() + 60_000, 'holder-token');
        const credited = credit(connection, jobKey, move);
        await Promise.all([move, credited]);
        return {
          state: await queue.getJobState('sw-y.1'),
          stalls: Number((await connection.hget(jobKey, 'stc')) ?? 0),
        };
      },
    );
  } finally {
    admin.disconnect();
  }
}

test('a give-back move that lands before the lock expires gets no stall credit', async () => {
  // What the worker did before: the credit sent as soon as the lock counted as lost.
  const naive = await moveLandsBeforeExpiry((connection, jobKey) =>
    creditStall(connection, jobKey),
  );
  assert.deepEqual(naive, { state: 'delayed', stalls: -1 }, 'an extra stall was granted');
  const settled: unknown[] = [];
  const fixed = await moveLandsBeforeExpiry(async (connection, jobKey, move) => {
    settled.push(await creditLostLock(connection, jobKey, move));
  });
  assert.deepEqual(fixed, { state: 'delayed', stalls: 0 });
  assert.deepEqual(settled, ['moved']);
});

test('a give-back move that fails because the lock expired is credited', async () => {
  await withStallQueue('stall-move', 'sw-z.1', async ({ connection, queue, jobKey, ...make }) => {
    const job = await make.holder(LOCK_MS).getNextJob('holder-token');
    assert.equal(job?.id, 'sw-z.1');
    await sleep(LOCK_MS + 100); // the lock expires before the move is sent
    const move = job.moveToDelayed(Date.now() + 60_000, 'holder-token');
    await assert.rejects(move);
    assert.equal(await creditLostLock(connection, jobKey, move), 'credited');
    await make.checker().startStalledCheckTimer();
    await waitFor(async () => (await queue.getJobState('sw-z.1')) === 'waiting', {
      what: 'the stall check to move the job back',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    assert.equal(Number(await connection.hget(jobKey, 'stc')), 0);
  });
});
