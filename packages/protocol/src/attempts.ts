import { z } from 'zod';

/** How one attempt at a trial ended (absent while it runs). */
export const ATTEMPT_OUTCOMES = [
  'completed',
  'early-stopped',
  'failed',
  'diverged',
  'cancelled',
  /** Given back to the queue without using an attempt (shutdown, outage, quarantine). */
  'given-back',
  /**
   * Ended with no outcome recorded: its worker lost the job's lock (an outage longer than the
   * lock; see the worker's LockWatchdog) or died, and BullMQ's stall check put the job back.
   * Written when the next attempt starts.
   */
  'stalled',
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt at a trial: which worker ran it, when, and how it ended. */
export const attemptLogEntrySchema = z.object({
  /** 1-based BullMQ attempt number (a give-back does not use one, so numbers may repeat). */
  attempt: z.number().int().min(1),
  workerId: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  outcome: z.enum(ATTEMPT_OUTCOMES).optional(),
  /** Why it ended so (the error message of a failure, the reason of a give-back). */
  reason: z.string().optional(),
});
export type AttemptLogEntry = z.infer<typeof attemptLogEntrySchema>;
