import { SweepError } from './errors.js';

/** Trial numbers are 1-based safe integers. */
export function checkTrialNumber(trialNumber: number): void {
  if (!Number.isSafeInteger(trialNumber) || trialNumber < 1) {
    throw new SweepError(
      'INVALID_TRIAL_NUMBER',
      `trial numbers are 1-based integers; got ${trialNumber}`,
    );
  }
}
