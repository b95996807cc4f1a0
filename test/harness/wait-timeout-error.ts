import { HarnessError } from './harness-error.js';

/** waitFor() ran out of time; the last error the probe threw is the cause. */
export class WaitTimeoutError extends HarnessError {
  readonly code = 'HARNESS_WAIT_TIMEOUT' as const;

  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    const last = options?.cause instanceof Error ? ` (last error: ${options.cause.message})` : '';
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, options);
  }
}
