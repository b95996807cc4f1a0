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
   * Off. Batching every command of an event-loop turn into one write raised status reads under 200
   * clients from 0.32-0.33x to 0.37-0.43x of a Fastify hello-world (bench:api) but slowed the
   * controller by a quarter (bench:queue: 2.2-2.3 -> 2.7-3.1 ms of Node CPU per trial, end->next-
   * start gap 0-1 -> 5 ms), its passes being sequential round trips. Sending a status read's two
   * commands as one explicit pipeline was slower still (0.23-0.25x): ioredis' pipeline costs more
   * CPU than the write it saves. The read routes get it on a connection of their own instead
   * (READ_REDIS_OPTIONS).
   */
  enableAutoPipelining: false,
} satisfies RedisOptions);

/**
 * Options of the connection duplicated from the API's for the read routes (status polls, sweep
 * reads): the API's, with ioredis auto-pipelining on. Under many clients the commands of one
 * event-loop turn go out in one socket write instead of one each; the controller keeps the API's
 * own connection, whose sequential round trips auto-pipelining slows (see API_REDIS_OPTIONS).
 */
export const READ_REDIS_OPTIONS = Object.freeze({
  ...API_REDIS_OPTIONS,
  enableAutoPipelining: true,
} satisfies RedisOptions);

/**
 * Options of a connection duplicated from the API's for blocking reads (QueueEvents' XREAD, the
 * webhook deliverer's): it waits through reconnects instead of failing.
 */
export const BLOCKING_REDIS_OPTIONS = Object.freeze({
  maxRetriesPerRequest: null,
  enableOfflineQueue: true,
} satisfies RedisOptions);
