/**
 * What the API and the worker log while Redis does not answer: ioredis retries a lost connection
 * by itself (backing off to one try every 5 s), but emits an `error` at every failed try, and without a listener
 * it prints "[ioredis] Unhandled error event" to stderr each time. These helpers turn that into a
 * structured warning at most every REDIS_UNREACHABLE_LOG_INTERVAL_MS that names the Redis it tried
 * and says what to do (a refused password gets its own message and hint), and one line when it
 * answers again.
 */
import type { RedisSentinelOptions } from './redis-sentinel.js';

/** How often, at most, one connection's failures are logged while Redis stays unreachable. */
export const REDIS_UNREACHABLE_LOG_INTERVAL_MS = 10_000;

/** What to do, in every "unreachable" line. */
export const REDIS_UNREACHABLE_HINT =
  'start Redis, or point REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) at a running one; retrying';

/** What to do when Redis answers but refuses the credentials (WRONGPASS, NOAUTH). */
export const REDIS_AUTH_HINT =
  'check the user name and password in REDIS_URL (redis://user:password@host:port); retrying';

/** Redis' replies to a missing or wrong password (AUTH and HELLO). */
const AUTH_ERROR = /\b(WRONGPASS|NOAUTH)\b/;

/** The client events watched (an ioredis client has them). */
export interface RedisConnectionEvents {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
}

/** The two levels used (a pino logger has them). */
export interface RedisReachabilityLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Options of {@link watchRedisReachability}. */
export interface WatchRedisReachabilityOptions {
  /** Where it connects, as {@link redisTargetOf} says it. */
  readonly target: string;
  /** Which of the process's connections this is (e.g. `api`, `bullmq`), on every line. */
  readonly connection: string;
  readonly log: RedisReachabilityLog;
  /** Default REDIS_UNREACHABLE_LOG_INTERVAL_MS. */
  readonly intervalMs?: number;
  /** Clock in ms (tests). Default Date.now. */
  readonly now?: () => number;
}

/**
 * The Redis a process connects to, for log lines: the URL without its user name or password, or
 * the sentinels and the master's name when Sentinel is configured.
 */
export function redisTargetOf(url: string, sentinel?: RedisSentinelOptions): string {
  if (sentinel !== undefined) {
    const addresses = sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    return `sentinels ${addresses} (master ${sentinel.name})`;
  }
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'an unparseable REDIS_URL';
  }
}

/**
 * Logs `client`'s connection failures (the first at once, then at most one per interval, with how
 * many were not logged) and, after failures, the moment it is ready again. Being a listener, it
 * also keeps ioredis from printing each failure unstructured. Returns a function that stops it.
 */
export function watchRedisReachability(
  client: RedisConnectionEvents,
  options: WatchRedisReachabilityOptions,
): () => void {
  const intervalMs = options.intervalMs ?? REDIS_UNREACHABLE_LOG_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const fields = { redis: options.target, connection: options.connection };
  let failingSince: number | undefined;
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  const onError = (error: Error): void => {
    const at = now();
    failingSince ??= at;
    if (at - lastLoggedAt < intervalMs) {
      unlogged += 1;
      return;
    }
    const refused = AUTH_ERROR.test(error.message);
    options.log.warn(
      {
        ...fields,
        error: error.message,
        failingForS: Math.round((at - failingSince) / 1000),
        ...(unlogged > 0 ? { failuresNotLogged: unlogged } : {}),
        hint: refused ? REDIS_AUTH_HINT : REDIS_UNREACHABLE_HINT,
      },
      refused ? 'Redis refused the credentials' : 'Redis unreachable',
    );
    lastLoggedAt = at;
    unlogged = 0;
  };
  const onReady = (): void => {
    if (failingSince === undefined) return;
    options.log.info(
      { ...fields, unreachableForS: Math.round((now() - failingSince) / 1000) },
      'Redis answers again',
    );
    failingSince = undefined;
    lastLoggedAt = Number.NEGATIVE_INFINITY;
    unlogged = 0;
  };
  client.on('error', onError);
  client.on('ready', onReady);
  return () => {
    client.off('error', onError);
    client.off('ready', onReady);
  };
}
