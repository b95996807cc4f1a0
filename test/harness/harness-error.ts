/** Stable codes of the errors the test harness throws. */
export const HARNESS_ERROR_CODES = [
  'HARNESS_BINARY_MISSING',
  'HARNESS_SERVICE_START_FAILED',
  'HARNESS_WAIT_TIMEOUT',
] as const;

export type HarnessErrorCode = (typeof HARNESS_ERROR_CODES)[number];

export abstract class HarnessError extends Error {
  abstract readonly code: HarnessErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
