import { setTimeout as sleep } from 'node:timers/promises';
import { WaitTimeoutError } from './wait-timeout-error.js';

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
export const DEFAULT_WAIT_INTERVAL_MS = 50;

export interface WaitForOptions {
  /** Give up after this long; default 10 s. */
  readonly timeoutMs?: number;
  /** Pause between probes; default 50 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message ("redis PING on port 6379"). */
  readonly what: string;
}

/**
 * Calls `probe` until it returns something other than undefined/false/null, and returns that.
 * A probe that throws counts as "not yet"; its last error becomes the timeout error's cause.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        options.what,
        timeoutMs,
        lastError !== undefined ? { cause: lastError } : undefined,
      );
    }
    await sleep(intervalMs);
  }
}
