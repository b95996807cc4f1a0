import { z } from 'zod';

/**
 * Which epoch's weights a trial's artifacts hold: `best` (the epoch with the best objective value,
 * under `best/`) or `last` (the last completed epoch, under `final/`). Rankings, the best-trial
 * route, its tar and `setrain fetch-best` refer to `best` unless asked for `last`.
 */
export const ARTIFACT_EPOCHS = ['best', 'last'] as const;
export type ArtifactEpoch = (typeof ARTIFACT_EPOCHS)[number];
export const DEFAULT_ARTIFACT_EPOCH: ArtifactEpoch = 'best';

/** The directory (under the trial's prefix) of each artifact set. */
export const ARTIFACT_DIRS: Readonly<Record<ArtifactEpoch, string>> = {
  best: 'best',
  last: 'final',
};

/**
 * Checkpoints a trial keeps while it runs: `latest-and-best` (the default: the latest complete
 * checkpoint, for resuming, and the best epoch's, for best/) or `all` (every epoch's).
 */
export const CHECKPOINT_RETENTIONS = ['latest-and-best', 'all'] as const;
export type CheckpointRetention = (typeof CHECKPOINT_RETENTIONS)[number];

/** Trials whose artifacts stay after the sweep ends: `all` (the default) or the `best-k` by the objective. */
export const TRIAL_RETENTIONS = ['all', 'best-k'] as const;
export type TrialRetention = (typeof TRIAL_RETENTIONS)[number];

export const DEFAULT_CHECKPOINT_RETENTION: CheckpointRetention = 'latest-and-best';
export const DEFAULT_TRIAL_RETENTION: TrialRetention = 'all';

/** A sweep spec's `retention` block. */
export const retentionSchema = z
  .strictObject({
    checkpoints: z.enum(CHECKPOINT_RETENTIONS).default(DEFAULT_CHECKPOINT_RETENTION),
    trials: z.enum(TRIAL_RETENTIONS).default(DEFAULT_TRIAL_RETENTION),
    /** With `trials: best-k`: how many trials keep their artifacts. */
    k: z.number().int().min(1).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.trials === 'best-k' && value.k === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['k'],
        message: 'trials: best-k needs k, the number of trials to keep (e.g. k: 3)',
      });
    }
    if (value.trials === 'all' && value.k !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['k'],
        message: 'k applies only to trials: best-k',
      });
    }
  });
export type RetentionSpec = z.output<typeof retentionSchema>;

/** One file of a checkpoint, as state.json records it (state.json itself excepted). */
export const checkpointFileSchema = z.object({
  /** File name within the checkpoint directory. */
  name: z.string().regex(/^[\w.-]+$/),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CheckpointFile = z.infer<typeof checkpointFileSchema>;

/**
 * A complete checkpoint as the trial's Redis state records it: the sha256 of its state.json is the
 * trusted root; state.json holds the sha256 of every other file of the checkpoint.
 */
export const checkpointRootSchema = z.object({
  epoch: z.number().int().min(1),
  /** Key prefix of the checkpoint directory (trailing slash). */
  prefix: z.string(),
  stateSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CheckpointRoot = z.infer<typeof checkpointRootSchema>;
