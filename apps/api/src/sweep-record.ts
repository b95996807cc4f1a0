import {
  bestTrialSummarySchema,
  SWEEP_KINDS,
  sweepIdSchema,
  sweepSpecSchema,
  sweepStatusSchema,
  TRIAL_STATUSES,
  type BestTrialSummary,
  type TrialCounts,
  type TrialState,
} from '@setrain/protocol';
import { z } from 'zod';

/**
 * A finished trial of an earlier sweep that seeds this sweep's sampler (spec.warmStart): its id,
 * its values of this sweep's searched parameters and its objective, the fields of a best-trial
 * summary.
 */
export const warmStartTrialSchema = bestTrialSummarySchema;
export type WarmStartTrial = BestTrialSummary;

/** What the controller keeps about a sweep in Redis (`redisKeys().sweep(id)`), as JSON. */
export const sweepRecordSchema = z.object({
  id: sweepIdSchema,
  kind: z.enum(SWEEP_KINDS),
  name: z.string().optional(),
  spec: sweepSpecSchema,
  status: sweepStatusSchema,
  reason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Trials the sweep runs in all; lowered when the sampler runs out of points. */
  plannedTrials: z.number().int().min(0),
  /** Trials created so far: trial numbers 1..startedTrials exist. Only grows, under the sweep lock. */
  startedTrials: z.number().int().min(0),
  artifactsBucket: z.string(),
  sampler: z.string(),
  best: bestTrialSummarySchema.nullable(),
  /** Whether sweep.json was rewritten after the sweep ended (retried by the reconcile loop). */
  finalSweepJsonWritten: z.boolean().default(false),
  /** Snapshot, taken at creation, of the warm-start trials (so a restart suggests the same). */
  warmStart: z.array(warmStartTrialSchema).default([]),
  /**
   * Fencing version: every write stores version + 1 and succeeds only if the stored version is
   * still the one read (SweepStore.putSweep), so a stale lock holder cannot overwrite newer state.
   */
  version: z.number().int().min(0).default(0),
});
export type SweepRecord = z.infer<typeof sweepRecordSchema>;

/** Trials by status, zeros included. */
export function countTrials(trials: readonly Pick<TrialState, 'status'>[]): TrialCounts {
  const counts = Object.fromEntries(TRIAL_STATUSES.map((s) => [s, 0])) as Record<
    (typeof TRIAL_STATUSES)[number],
    number
  >;
  for (const trial of trials) counts[trial.status] += 1;
  return { ...counts, total: trials.length };
}
