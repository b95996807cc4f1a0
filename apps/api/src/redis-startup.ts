import type { Redis } from 'ioredis';

/**
 * Connects the API's (lazy) connection before the app is built, waiting for as long as Redis is
 * unreachable: ioredis retries on its own after a failed connect, and the caller's
 * watchRedisReachability says why it waits. The API used to exit here with ioredis' bare
 * "Connection is closed." when Redis was not up yet. Waiting before buildApp (not serving with
 * Redis absent) matters: BullMQ's QueueEvents, given a connection that fails its first connect,
 * never reads events again, so sweeps would advance only on the reconcile loop.
 *
 * Rejects only when ioredis gives up before Redis answers (a retry strategy that stops; the
 * default never does). A disconnect() while it waits does not end it: ioredis emits no 'end'
 * between two reconnect attempts; main.ts installs its signal handlers only after this returns,
 * so a signal meanwhile ends the process.
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
  // ioredis gave up (a retry strategy that stops): 'end' has already been emitted.
  if (redis.status === 'end') {
    throw new Error('the Redis connection was closed before Redis answered');
  }
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
