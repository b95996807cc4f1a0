import type { Redis } from 'ioredis';

/**
 * Connects the API's (lazy) connection before the app is built, waiting for as long as Redis is
 * unreachable: ioredis retries on its own after a failed connect, and the caller's
 * watchRedisReachability says why it waits. The API used to exit here with ioredis' bare
 * "Connection is closed." when Redis was not up yet. Waiting before buildApp (not serving with
 * Redis absent) matters: BullMQ's QueueEvents, given a connection that fails its first connect,
 * never reads events again, so sweeps would advance only on the reconcile loop.
 *
 * Rejects only when the connection is closed before Redis answers.
 */
export async function connectWhenReachable(redis: Redis): Promise<void> {
  if (redis.status === 'wait') {
    try {
      await redis.connect();
      return;
    } catch {
      // Logged by the reachability watcher; ioredis is retrying.
    }
  }
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      redis.off('end', onEnd);
      resolve();
    };
    const onEnd = (): void => {
      redis.off('ready', onReady);
      reject(new Error('the Redis connection was closed before Redis answered'));
    };
    redis.once('ready', onReady);
    redis.once('end', onEnd);
  });
}
