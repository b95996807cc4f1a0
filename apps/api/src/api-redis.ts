import type { RedisOptions } from 'ioredis';

/**
 * ioredis options of the API's own connection, the same in the server (main.ts), the tests and the
 * benchmarks.
 */
export const API_REDIS_OPTIONS = Object.freeze({
  /** Commands fail after one reconnect-retry, so requests answer 503 instead of hanging. */
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  lazyConnect: true,
  /**
   * Commands issued in the same event-loop turn go out in one socket write (and their replies come
   * back in one read). Under 200 concurrent status reads that is 1.5x the requests/s (bench:api):
   * each read was two writes to Redis of its own, and a socket write is most of a read's cost.
   */
  enableAutoPipelining: true,
} satisfies RedisOptions);

/**
 * Options of a connection duplicated from the API's for blocking reads (QueueEvents' XREAD, the
 * webhook deliverer's): it waits through reconnects instead of failing, and sends each command as
 * it comes (a blocking command holds the connection; nothing would share its write).
 */
export const BLOCKING_REDIS_OPTIONS = Object.freeze({
  maxRetriesPerRequest: null,
  enableOfflineQueue: true,
  enableAutoPipelining: false,
} satisfies RedisOptions);
