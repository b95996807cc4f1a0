import { z } from 'zod';

import { ARTIFACT_EPOCHS, checkpointRootSchema, retentionSchema } from './artifacts.js';
import { attemptLogEntrySchema } from './attempts.js';
import { modelSpecSchema } from './model-args-schema.js';
import { trialMetricsSchema } from './objectives.js';
import { trialPbtSchema } from './pbt-lineage.js';
import { trialIdSchema, sweepIdSchema } from './ids.js';
import { earlyStoppingSchema } from './sweep-spec.js';
import { METRIC_NAMES, objectiveSchema, trainingSpecSchema } from './training.js';

export const TRIAL_STATUSES = [
  'queued',
  'running',
  // Had started; its job waits for a worker again (worker died / job given back or retried).
  'stalled',
  'requeued',
  'completed',
  'early-stopped',
  'failed',
  'diverged',
  'cancelled',
] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];
/** Statuses a trial never leaves. */
export const TERMINAL_TRIAL_STATUSES: readonly TrialStatus[] = [
  'completed',
  'early-stopped',
  'failed',
  'diverged',
  'cancelled',
];
export function isTerminalTrialStatus(status: TrialStatus): boolean {
  return TERMINAL_TRIAL_STATUSES.includes(status);
}

const paramValueSchema = z.union([z.number(), z.string()]);
export const paramSetSchema = z.record(z.string(), paramValueSchema);

/** The BullMQ job data of one trial: everything a worker needs, already resolved. */
export const trialPayloadSchema = z.strictObject({
  sweepId: sweepIdSchema,
  trialId: trialIdSchema,
  trialNumber: z.number().int().min(1),
  /** s3:// URI of the dataset manifest. */
  dataset: z.string(),
  /** Model args with the trial's params applied (numClasses comes from the dataset). */
  model: modelSpecSchema,
  /** Training args with the trial's params applied; `seed` is this trial's own seed. */
  training: trainingSpecSchema,
  objective: objectiveSchema,
  /** The sampled hyperparameters (also folded into model/training above). */
  params: paramSetSchema,
  /** Bucket the worker writes checkpoints, final weights and trial.json to. */
  artifactsBucket: z.string(),
  /**
   * The sweep's early-stopping rule (ASHA's maxEpochs resolved by the controller). The worker asks
   * it after every epoch; absent, the trial runs its full budget.
   */
  earlyStopping: earlyStoppingSchema.optional(),
  /** The sweep's retention block; absent, the defaults (latest and best checkpoints). */
  retention: retentionSchema.optional(),
  /** PBT trials: lineage and effective schedule so far (trial.json records them). */
  pbt: trialPbtSchema.optional(),
});
export type TrialPayload = z.infer<typeof trialPayloadSchema>;

/** Metrics of one finished epoch. Validation metrics are on the held-out split. */
export const epochMetricsSchema = z.object({
  /** 1-based. */
  epoch: z.number().int().min(1),
  loss: z.number(),
  accuracy: z.number(),
  val_loss: z.number(),
  val_accuracy: z.number(),
  /** Mean per-class ROC AUC on validation (multi-label datasets only). */
  val_auc: z.number().optional(),
  durationMs: z.number(),
  imagesPerSec: z.number(),
  /** S3 key prefix of the checkpoint written after this epoch. */
  checkpoint: z.string().optional(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;
export const metricNameSchema = z.enum(METRIC_NAMES);

/** An artifact written to S3, with its checksum so downloads can be verified. */
export const artifactSchema = z.object({
  key: z.string(),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Which weights it belongs to: `best/` or `final/` (`last`). Absent in records before best/. */
  set: z.enum(ARTIFACT_EPOCHS).optional(),
  /** The epoch whose weights the set holds. */
  epoch: z.number().int().min(1).optional(),
});
export type Artifact = z.infer<typeof artifactSchema>;

/** Where a trial's results came from. */
export const provenanceSchema = z.object({
  dataset: z.string(),
  manifestEtag: z.string().optional(),
  numClasses: z.number().int().optional(),
  multiLabel: z.boolean().optional(),
  trainImages: z.number().int().optional(),
  validationImages: z.number().int().optional(),
  seed: z.number().int(),
  engine: z.string().optional(),
  packageVersion: z.string(),
  workerId: z.string().optional(),
  resumedFromEpoch: z.number().int().optional(),
});
export type Provenance = z.infer<typeof provenanceSchema>;

/** `trial.json`: the durable record of a trial, written to S3 when it ends. */
export const trialRecordSchema = z.object({
  trialId: trialIdSchema,
  sweepId: sweepIdSchema,
  trialNumber: z.number().int().min(1),
  status: z.enum(TRIAL_STATUSES),
  /** Why it ended as it did (failure message, early-stopping decision, cancel). */
  reason: z.string().optional(),
  params: paramSetSchema,
  model: modelSpecSchema,
  training: trainingSpecSchema,
  objective: objectiveSchema,
  /** The objective's best value over the epochs, and the epoch it came from. */
  objectiveValue: z.number().nullable(),
  bestEpoch: z.number().int().nullable(),
  /** Parameter count, latency per image and seconds per epoch, measured after training (objectives.ts). */
  trialMetrics: trialMetricsSchema.optional(),
  epochs: z.array(epochMetricsSchema),
  provenance: provenanceSchema,
  /** Every artifact of the trial's final/ and best/ directories, with sha256, set and epoch. */
  artifacts: z.array(artifactSchema),
  /** Every attempt at the trial and the worker that ran it (records written before it lack it). */
  attemptsLog: z.array(attemptLogEntrySchema).optional(),
  /** PBT trials: every exploit (donor, epoch, parameters before and after) and the effective schedule. */
  pbt: trialPbtSchema.optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type TrialRecord = z.infer<typeof trialRecordSchema>;

/** The BullMQ return value of a trial job that ran to an end the sweep counts as a result. */
export const trialResultSchema = z.object({
  trialId: trialIdSchema,
  status: z.enum(['completed', 'early-stopped']),
  reason: z.string().optional(),
  objectiveValue: z.number().nullable(),
  bestEpoch: z.number().int().nullable(),
  epochsCompleted: z.number().int().min(0),
  /** Parameter count, latency per image and seconds per epoch, measured after training (objectives.ts). */
  trialMetrics: trialMetricsSchema.optional(),
  /** S3 key of trial.json. */
  trialJson: z.string(),
});
export type TrialResult = z.infer<typeof trialResultSchema>;

/** Live state of a trial in Redis (`redisKeys().sweepTrials`), kept by controller and worker. */
export const trialStateSchema = z.object({
  trialId: trialIdSchema,
  trialNumber: z.number().int().min(1),
  status: z.enum(TRIAL_STATUSES),
  reason: z.string().optional(),
  params: paramSetSchema,
  epochsCompleted: z.number().int().min(0).default(0),
  latest: epochMetricsSchema.optional(),
  objectiveValue: z.number().nullable().default(null),
  /** Parameter count, latency per image and seconds per epoch, measured after training (objectives.ts). */
  trialMetrics: trialMetricsSchema.optional(),
  workerId: z.string().optional(),
  attempts: z.number().int().min(0).default(0),
  /**
   * The job's BullMQ stalled count when the controller last saw a worker hold it: a higher count
   * on a waiting job means a new stall (`stalled`), an equal one a give-back (`requeued`).
   */
  jobStalls: z.number().int().min(0).optional(),
  queuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  trialJson: z.string().optional(),
  /**
   * The trial's complete checkpoints, oldest first, each with the sha256 of its state.json: the
   * trusted roots a resume verifies a checkpoint from.
   */
  checkpoints: z.array(checkpointRootSchema).optional(),
  /** Every attempt at the trial and the worker that ran it. */
  attemptsLog: z.array(attemptLogEntrySchema).optional(),
  /** PBT trials: lineage and effective schedule (the controller writes it at each exploit). */
  pbt: trialPbtSchema.optional(),
});
export type TrialState = z.infer<typeof trialStateSchema>;

/** The early-stopping rule's answer after one epoch (worker process -> trial process). */
export const EARLY_STOP_ACTIONS = ['continue', 'stop'] as const;
export type EarlyStopAction = (typeof EARLY_STOP_ACTIONS)[number];

/** Why a trial or a whole sweep must stop (see `redisKeys().sweepStops`). */
export const STOP_KINDS = ['cancel', 'early-stop', 'budget'] as const;
export type StopKind = (typeof STOP_KINDS)[number];
/** A durable stop request: written once, never cleared while the sweep's keys live. */
export const stopRequestSchema = z.object({
  kind: z.enum(STOP_KINDS),
  reason: z.string(),
  requestedAt: z.string(),
});
export type StopRequest = z.infer<typeof stopRequestSchema>;

/** Messages on the control channel. */
export const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cancel'), trialIds: z.array(trialIdSchema), reason: z.string() }),
]);
export type ControlMessage = z.infer<typeof controlMessageSchema>;
