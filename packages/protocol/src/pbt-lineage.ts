import { z } from 'zod';

import { trialIdSchema } from './ids.js';

const paramSetSchema = z.record(z.string(), z.union([z.number(), z.string()]));

/** One exploit of a PBT trial: it copied `donorTrialId`'s checkpoint and continued with new parameters. */
export const pbtExploitSchema = z.object({
  /** Epochs the trial had completed when it exploited (its own, now replaced). */
  atEpoch: z.number().int().min(1),
  donorTrialId: trialIdSchema,
  /** The epoch of the donor's checkpoint it continued from (training resumes at donorEpoch + 1). */
  donorEpoch: z.number().int().min(1),
  paramsBefore: paramSetSchema,
  paramsAfter: paramSetSchema,
  /** Key prefix of the copy in this trial's checkpoints/ and the copied state.json's sha256 (the donor's root). */
  checkpoint: z.string(),
  stateSha256: z.string().regex(/^[0-9a-f]{64}$/),
  decidedAt: z.string(),
});
export type PbtExploit = z.infer<typeof pbtExploitSchema>;

/**
 * One stretch of a trial's effective schedule: the weights it ends with were trained with `params`
 * from epoch `fromEpoch` on (until the next segment), by the run of trial `trialId` (a donor's,
 * for epochs inherited through an exploit).
 */
export const pbtSegmentSchema = z.object({
  fromEpoch: z.number().int().min(1),
  params: paramSetSchema,
  trialId: trialIdSchema,
});
export type PbtSegment = z.infer<typeof pbtSegmentSchema>;

/** A PBT trial's lineage (its exploits, oldest first) and effective hyperparameter schedule. */
export const trialPbtSchema = z.object({
  lineage: z.array(pbtExploitSchema),
  schedule: z.array(pbtSegmentSchema).min(1),
});
export type TrialPbt = z.infer<typeof trialPbtSchema>;

/** The schedule of a trial that exploits `donor` at `donorEpoch` and continues with `params`. */
export function scheduleAfterExploit(
  donor: readonly PbtSegment[],
  donorEpoch: number,
  params: PbtSegment['params'],
  trialId: string,
): PbtSegment[] {
  return [
    ...donor.filter((segment) => segment.fromEpoch <= donorEpoch),
    { fromEpoch: donorEpoch + 1, params, trialId },
  ];
}
