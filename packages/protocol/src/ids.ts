import { z } from 'zod';

/** Sweep ids: lowercase, DNS- and S3-key-safe, no colons (BullMQ job ids and Redis keys embed them). */
export const SWEEP_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,62}$/;
/** Trial ids are `<sweepId>.<n>` with n = 1, 2, ...: deterministic, so a retried enqueue or a restarted
 * controller can never create a second job for the same trial. */
export const TRIAL_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,62}\.[1-9][0-9]{0,5}$/;

export const sweepIdSchema = z.string().regex(SWEEP_ID_PATTERN, 'must be a setrain sweep id');
export const trialIdSchema = z.string().regex(TRIAL_ID_PATTERN, 'must be a setrain trial id');

export function trialIdOf(sweepId: string, trialNumber: number): string {
  if (!Number.isInteger(trialNumber) || trialNumber < 1) {
    throw new RangeError(`trial numbers start at 1; got ${trialNumber}`);
  }
  return `${sweepId}.${trialNumber}`;
}

/** Splits a trial id into its sweep id and number; undefined when it is not a trial id. */
export function parseTrialId(
  trialId: string,
): { sweepId: string; trialNumber: number } | undefined {
  if (!TRIAL_ID_PATTERN.test(trialId)) return undefined;
  const dot = trialId.lastIndexOf('.');
  return { sweepId: trialId.slice(0, dot), trialNumber: Number(trialId.slice(dot + 1)) };
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A new sweep id such as `sw-k3x9q2m7ab`; `random` returns bytes (crypto.randomBytes in apps). */
export function newSweepId(
  randomBytes: (n: number) => Uint8Array,
  kind: 'sweep' | 'job' = 'sweep',
): string {
  const bytes = randomBytes(10);
  let suffix = '';
  for (const b of bytes) suffix += ID_ALPHABET.charAt(b % ID_ALPHABET.length);
  return `${kind === 'job' ? 'job' : 'sw'}-${suffix}`;
}
