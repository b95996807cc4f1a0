import { setTimeout as sleep } from 'node:timers/promises';

import { isInfrastructureError } from '../failure-kind.js';

/** Options of {@link retryInfrastructure}. */
export interface RetryOptions {
  /** Give up (rethrow the last error) once this much time has passed. Default 20 s. */
  readonly withinMs?: number;
  /** First delay; doubled after each try up to maxDelayMs. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Default 2 s. */
  readonly maxDelayMs?: number;
}

/** Retry window of trial-state writes: shorter than BullMQ's default 30 s job lock. */
export const DEFAULT_RETRY_WITHIN_MS = 20_000;

/**
 * Runs `operation`, retrying with exponential backoff while it fails with an infrastructure error
 * (Redis or S3 unreachable); other errors are thrown at once. The operation must be idempotent.
 */
export async function retryInfrastructure<T>(
  operation: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.withinMs ?? DEFAULT_RETRY_WITHIN_MS);
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!isInfrastructureError(error) || Date.now() + delay > deadline) throw error;
      await sleep(delay);
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}
