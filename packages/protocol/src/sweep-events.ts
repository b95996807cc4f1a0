/**
 * Server-Sent Events of `GET /v1/sweeps/:id/events` (the dashboard's live feed). Every event's data
 * is one JSON `SweepEvent`; its SSE `id` lets a reconnecting client ask (Last-Event-ID) for only what
 * it missed.
 */
import { z } from 'zod';

import { sweepSummarySchema, trialSummarySchema } from './api.js';
import { trialIdSchema } from './ids.js';
import { type EpochSeries } from './epoch-series.js';

/** An EpochSeries (see epoch-series.ts): compact enough for 1,000 trials x 50 epochs in one
 * snapshot. */
export const epochSeriesSchema = z.object({
  /** 1-based epoch of the first value. */
  from: z.number().int().min(1),
  loss: z.array(z.number().nullable()),
  accuracy: z.array(z.number().nullable()),
  val_loss: z.array(z.number().nullable()),
  val_accuracy: z.array(z.number().nullable()),
  val_auc: z.array(z.number().nullable()),
}) satisfies z.ZodType<EpochSeries>;

/**
 * `snapshot`: the whole sweep (sent first, and whenever the client's Last-Event-ID is unknown).
 * `update`: the sweep summary, the trials whose state changed, and the epochs finished since.
 */
export const sweepEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('snapshot'),
    sweep: sweepSummarySchema,
    trials: z.array(trialSummarySchema),
    epochs: z.record(trialIdSchema, epochSeriesSchema),
  }),
  z.object({
    type: z.literal('update'),
    sweep: sweepSummarySchema,
    trials: z.array(trialSummarySchema),
    epochs: z.record(trialIdSchema, epochSeriesSchema),
  }),
]);
export type SweepEvent = z.infer<typeof sweepEventSchema>;

/** SSE event name of every sweep event (the data says snapshot or update). */
export const SWEEP_EVENT_NAME = 'sweep';
