import { HarnessError } from './harness-error.js';

/** A service process exited or never became ready; `output` is the tail of what it printed. */
export class ServiceStartError extends HarnessError {
  readonly code = 'HARNESS_SERVICE_START_FAILED' as const;

  constructor(
    readonly service: string,
    reason: string,
    readonly output: string,
    options?: ErrorOptions,
  ) {
    super(
      `${service} failed to start: ${reason}${output ? `\n--- output ---\n${output}` : ''}`,
      options,
    );
  }
}
