import { z } from 'zod';

import { sweepDetailSchema } from './api.js';
import { trialIdSchema } from './ids.js';

/** What `POST /v1/sweeps/:id/cancel` did or queued. */
export const cancelOutcomeSchema = z.object({
  /**
   * `done`: the sweep is marked cancelled. `queued`: the cancel is recorded durably (workers obey
   * it) but another replica held the sweep's lock; the sweep turns cancelled on its next advance.
   */
  state: z.enum(['done', 'queued']),
  /** Running trials told to stop (durable stop request plus a pub/sub message). */
  stoppedTrials: z.array(trialIdSchema),
  /** Trials that had not started: their jobs left the queue and they ended cancelled. */
  removedTrials: z.array(trialIdSchema),
});
export type CancelOutcome = z.infer<typeof cancelOutcomeSchema>;

/** `POST /v1/sweeps/:id/cancel`: the sweep after the cancel, and what the cancel did. */
export const cancelSweepResponseSchema = sweepDetailSchema.extend({ cancel: cancelOutcomeSchema });
export type CancelSweepResponse = z.infer<typeof cancelSweepResponseSchema>;
