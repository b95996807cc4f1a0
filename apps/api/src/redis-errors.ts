/** Messages ioredis uses when it cannot (or will not) reach the server. */
const UNAVAILABLE_MESSAGES = [
  /enableOfflineQueue/i,
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/,
  /max retries per request/i,
  /Stream isn't writeable/i,
];

/** True when `error` (or its cause) says Redis is unreachable rather than that a command failed. */
export function isRedisUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.name === 'MaxRetriesPerRequestError') return true;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(e instanceof Error ? e.message : ''))) {
      return true;
    }
    e = e.cause;
  }
  return false;
}
