import type { Redis } from 'ioredis';

// Takes one back from BullMQ's stalled counter (`stc`) of an unfinished job. The stall check adds
// one when it finds the job active without a lock; whichever runs first, the two cancel out.
const CREDIT_STALL = `
if redis.call('EXISTS', KEYS[1]) == 1 and not redis.call('HGET', KEYS[1], 'finishedOn') then
  redis.call('HINCRBY', KEYS[1], 'stc', -1)
  return 1
end
return 0`;

/**
 * Credits the stall that a lost lock causes (the worker stopped the trainer itself, see
 * LockWatchdog), so a Redis outage longer than the lock never counts toward
 * SETRAIN_MAX_STALLED_COUNT; a worker that dies still does. `jobKey` is BullMQ's job hash
 * (`worker.toKey(jobId)`). Sent on a connection that queues commands while Redis is away, so it
 * runs as soon as Redis answers again. True when the job was still unfinished.
 */
export async function creditStall(connection: Redis, jobKey: string): Promise<boolean> {
  return (await connection.eval(CREDIT_STALL, 1, jobKey)) === 1;
}
