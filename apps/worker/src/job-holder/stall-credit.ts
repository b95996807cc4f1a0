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

/** How the stall of a lost lock was settled by {@link creditLostLock}. */
export type LostLockCredit =
  /** The stall was credited (it happened, or the stall check will find the job). */
  | 'credited'
  /** The job holder's own give-back move reached Redis while the lock still held: no stall. */
  | 'moved'
  /** The job had finished: nothing to credit. */
  | 'finished';

/**
 * Credits the stall of a lost lock (see {@link creditStall}) unless the job holder's give-back
 * move, sent before the lock counted as lost and queued with it while Redis was away, lands first:
 * when Redis answers again at 80-100% of the lock duration the move still holds the lock, the job
 * leaves the active list and never stalls, and a credit would grant the trial an extra stall.
 * So the credit waits for that move (`pendingMove`) and is sent only when it failed (the lock had
 * expired: the job stalls).
 */
export async function creditLostLock(
  connection: Redis,
  jobKey: string,
  pendingMove?: Promise<unknown>,
): Promise<LostLockCredit> {
  if (pendingMove !== undefined) {
    const landed = await pendingMove.then(
      () => true,
      () => false,
    );
    if (landed) return 'moved';
  }
  return (await creditStall(connection, jobKey)) ? 'credited' : 'finished';
}
