/** Stable codes of the errors this package throws. */
export const SWEEP_ERROR_CODES = [
  'GRID_NOT_FINITE',
  'UNKNOWN_STRATEGY',
  'TOO_MANY_DIMENSIONS',
  'INVALID_OPTIONS',
  'INVALID_TRIAL_NUMBER',
  'INFEASIBLE',
] as const;
export type SweepErrorCode = (typeof SWEEP_ERROR_CODES)[number];

/** A search space, sampler option or scheduler option this package cannot work with. */
export class SweepError extends Error {
  constructor(
    readonly code: SweepErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SweepError';
  }
}
