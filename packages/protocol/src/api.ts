/**
 * Request and response bodies of the HTTP API (`apps/api`), shared with its clients (the CLI, tests).
 * The API validates and serialises with exactly these schemas, and its OpenAPI document at
 * `/docs/json` is generated from them.
 */
import { z } from 'zod';

import { ARTIFACT_EPOCHS, DEFAULT_ARTIFACT_EPOCH } from './artifacts.js';
import { attemptLogEntrySchema } from './attempts.js';
import { sweepIdSchema, trialIdSchema } from './ids.js';
import { MAX_TRIALS_LIMIT, STRATEGIES, type SweepSpec } from './sweep-spec.js';
import { trialPbtSchema } from './pbt-lineage.js';
import { epochMetricsSchema, paramSetSchema, TRIAL_STATUSES } from './trial.js';
import { GOALS, METRIC_NAMES } from './training.js';
import { hypervolumeSchema, OBJECTIVE_METRIC_NAMES, trialMetricsSchema } from './objectives.js';

/** Where a sweep is in its life. `running` until every planned trial ended or it was stopped;
 * `paused` enqueues nothing new (running trials finish) until resumed. */
export const SWEEP_STATUSES = ['running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const sweepStatusSchema = z.enum(SWEEP_STATUSES);
/** Statuses a sweep never leaves. */
export const FINISHED_SWEEP_STATUSES: readonly SweepStatus[] = ['completed', 'failed', 'cancelled'];
export function isFinishedSweepStatus(status: SweepStatus): boolean {
  return FINISHED_SWEEP_STATUSES.includes(status);
}

/** `job` = a one-trial sweep submitted through `POST /v1/jobs`. */
export const SWEEP_KINDS = ['sweep', 'job'] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];

/** Stable codes of every error the API answers with (see the API's error catalogue). */
export const API_ERROR_CODES = [
  'BODY_INVALID',
  'REQUEST_INVALID',
  'SPEC_INVALID',
  'DATASET_INVALID',
  'DATA_BUCKET_NOT_ALLOWED',
  'TRIAL_MEMORY_EXCEEDED',
  'WEBHOOK_URL_NOT_ALLOWED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'SWEEP_NOT_FOUND',
  'TRIAL_NOT_FOUND',
  'ARTIFACT_NOT_FOUND',
  'NO_BEST_TRIAL',
  'NO_SINGLE_BEST',
  'SWEEP_FINISHED',
  'SWEEP_CONFLICT',
  'BODY_TOO_LARGE',
  'SPEC_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'REDIS_UNAVAILABLE',
  'S3_UNAVAILABLE',
  'NOT_READY',
  'SWEEP_BUSY',
  'INTERNAL',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** One problem with a request: which field (`search.parameters.dropout.max`, `dataset`) and what. */
export const apiIssueSchema = z.object({ path: z.string(), message: z.string() });
export type ApiIssue = z.infer<typeof apiIssueSchema>;

/** Every error response: `{ "error": { "code": "SPEC_INVALID", "message": "...", "issues": [...] } }`. */
export const apiErrorBodySchema = z.object({
  error: z.object({
    code: z.enum(API_ERROR_CODES),
    message: z.string(),
    issues: z.array(apiIssueSchema).optional(),
  }),
});
export type ApiErrorBody = z.infer<typeof apiErrorBodySchema>;

/** Trials of a sweep by status (every status present, zeros included), plus `total`. */
const count = z.number().int().min(0);
export const trialCountsSchema = z.object({
  queued: count,
  running: count,
  stalled: count,
  requeued: count,
  completed: count,
  'early-stopped': count,
  failed: count,
  diverged: count,
  cancelled: count,
  total: count,
}) satisfies z.ZodObject<Record<(typeof TRIAL_STATUSES)[number] | 'total', z.ZodNumber>>;
export type TrialCounts = z.infer<typeof trialCountsSchema>;

/** The best trial so far under the sweep's objective. */
export const bestTrialSummarySchema = z.object({
  trialId: trialIdSchema,
  params: paramSetSchema,
  objectiveValue: z.number(),
});
export type BestTrialSummary = z.infer<typeof bestTrialSummarySchema>;

/** A sweep as listed by `GET /v1/sweeps`. */
/** One objective of a sweep as the API shows it (objectives.ts). */
export const objectiveViewSchema = z.object({
  metric: z.enum(OBJECTIVE_METRIC_NAMES),
  goal: z.enum(GOALS),
});

export const sweepSummarySchema = z.object({
  id: sweepIdSchema,
  kind: z.enum(SWEEP_KINDS),
  name: z.string().optional(),
  status: sweepStatusSchema,
  /** Why it ended as it did (cancel reason, too many failed trials). */
  reason: z.string().optional(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  /** Trials the sweep will run in all (shrinks if the search space runs out). */
  plannedTrials: z.number().int().min(0),
  /** Trials created so far (queued or further). */
  startedTrials: z.number().int().min(0),
  counts: trialCountsSchema,
  objective: z.object({ metric: z.enum(METRIC_NAMES), goal: z.enum(GOALS) }),
  /** Multi-objective sweeps: every objective, in spec order (`objective` is its epoch metric). */
  objectives: z.array(objectiveViewSchema).optional(),
  /** The best trial; null until one finished, and always null with several objectives (see /best). */
  best: bestTrialSummarySchema.nullable(),
  /**
   * The name of the API key that submitted it (never the key itself); absent on sweeps from before
   * ownership was recorded.
   */
  submitter: z.string().optional(),
});
export type SweepSummary = z.infer<typeof sweepSummarySchema>;

/** A trial as shown inside a sweep. */
export const trialSummarySchema = z.object({
  trialId: trialIdSchema,
  trialNumber: z.number().int().min(1),
  status: z.enum(TRIAL_STATUSES),
  reason: z.string().optional(),
  params: paramSetSchema,
  epochsCompleted: z.number().int().min(0),
  /** Metrics of the latest finished epoch. */
  latest: epochMetricsSchema.optional(),
  /** The objective's best value over the trial's epochs (set when the trial ended). */
  objectiveValue: z.number().nullable(),
  /** Parameter count, latency per image (ms, batch 1) and seconds per epoch, once it finished. */
  trialMetrics: trialMetricsSchema.optional(),
  /** PBT trials after their first interval: exploits (donor, epoch, parameters) and effective schedule. */
  pbt: trialPbtSchema.optional(),
  queuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type TrialSummary = z.infer<typeof trialSummarySchema>;

/** `GET /v1/sweeps/:id`. */
export const sweepDetailSchema = sweepSummarySchema.extend({
  /** The validated spec with every default filled in (see sweepSpecSchema for its fields). */
  spec: z.custom<SweepSpec>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    'must be a sweep spec object',
  ),
  trials: z.array(trialSummarySchema),
  /** Multi-objective sweeps: the trial numbers on the Pareto front so far (GET /best has values). */
  front: z.array(z.number().int().min(1)).optional(),
  /**
   * Multi-objective sweeps: the front's hypervolume, once there is a reference point (the spec's,
   * or one inferred from a non-empty front).
   */
  hypervolume: hypervolumeSchema.optional(),
});
export type SweepDetail = z.infer<typeof sweepDetailSchema>;

/** `POST /v1/sweeps` and `POST /v1/jobs` answer 201 with the new sweep and its first trials. */
export const createSweepResponseSchema = sweepDetailSchema;
export type CreateSweepResponse = SweepDetail;

/** `GET /v1/sweeps` query: newest first, `offset`/`limit` paging. */
export const DEFAULT_SWEEP_PAGE_SIZE = 20;
export const MAX_SWEEP_PAGE_SIZE = 100;
export const listSweepsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_SWEEP_PAGE_SIZE).default(DEFAULT_SWEEP_PAGE_SIZE),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListSweepsQuery = z.infer<typeof listSweepsQuerySchema>;

export const listSweepsResponseSchema = z.object({
  sweeps: z.array(sweepSummarySchema),
  /** Sweeps in all. */
  total: z.number().int().min(0),
  /** Offset of the next page; absent on the last page. */
  nextOffset: z.number().int().min(0).optional(),
});
export type ListSweepsResponse = z.infer<typeof listSweepsResponseSchema>;

/** `POST /v1/sweeps/:id/cancel` body (optional). */
export const cancelSweepBodySchema = z
  .strictObject({ reason: z.string().min(1).max(500).optional() })
  .nullish();

/** `PATCH /v1/sweeps/:id`: change a running or paused sweep's budget. */
export const updateSweepBodySchema = z
  .strictObject({
    /** Trials running at once from now on. */
    parallelism: z.number().int().min(1).max(256).optional(),
    /** Trials in all; at least the trials already started (grid: capped at the grid's size). */
    maxTrials: z.number().int().min(1).max(MAX_TRIALS_LIMIT).optional(),
  })
  .refine((b) => b.parallelism !== undefined || b.maxTrials !== undefined, {
    error: 'give parallelism, maxTrials or both',
  });
export type UpdateSweepBody = z.infer<typeof updateSweepBodySchema>;

/** `POST /v1/sweeps/preview?n=` query: how many configurations to list. */
export const DEFAULT_PREVIEW_COUNT = 10;
export const MAX_PREVIEW_COUNT = 1000;
export const previewQuerySchema = z.object({
  n: z.coerce.number().int().min(1).max(MAX_PREVIEW_COUNT).default(DEFAULT_PREVIEW_COUNT),
});

/** One configuration of a preview. */
export const previewEntrySchema = z.object({
  trialNumber: z.number().int().min(1),
  params: paramSetSchema,
  /** True when the real sweep would choose differently once results arrive (TPE after startup). */
  dependsOnResults: z.boolean(),
});
export type PreviewEntrySummary = z.infer<typeof previewEntrySchema>;

/** `POST /v1/sweeps/preview`: the first n configurations of a spec; nothing is stored. */
export const previewResponseSchema = z.object({
  strategy: z.enum(STRATEGIES),
  /** Trials the sweep would run (grid: min(maxTrials, grid size)). */
  plannedTrials: z.number().int().min(0),
  configurations: z.array(previewEntrySchema),
});
export type PreviewResponse = z.infer<typeof previewResponseSchema>;

/** `GET /v1/trials/:id`: the trial's live state and its metrics per finished epoch. */
export const trialDetailSchema = trialSummarySchema.extend({
  sweepId: sweepIdSchema,
  attempts: z.number().int().min(0),
  workerId: z.string().optional(),
  /** S3 key of trial.json once written. */
  trialJson: z.string().optional(),
  epochs: z.array(epochMetricsSchema),
  /** Every attempt, oldest first: its worker, when, how it ended and why (empty before any). */
  attemptsLog: z.array(attemptLogEntrySchema),
});
export type TrialDetail = z.infer<typeof trialDetailSchema>;

/** Which of a trial's directories a file is in. */
export const TRIAL_ARTIFACT_GROUPS = ['record', 'best', 'final', 'checkpoint'] as const;
export type TrialArtifactGroup = (typeof TRIAL_ARTIFACT_GROUPS)[number];

/** One file of a trial: where, how big, its sha256, and a presigned GET URL for it. */
export const trialArtifactSchema = z.object({
  /** Path under the trial's prefix (`best/model.json`, `checkpoints/epoch-0002/state.json`). */
  path: z.string(),
  key: z.string(),
  uri: z.string(),
  group: z.enum(TRIAL_ARTIFACT_GROUPS),
  /** The epoch whose weights or state the file holds (absent for trial.json). */
  epoch: z.number().int().min(1).optional(),
  bytes: z.number().int().min(0),
  sha256: z.string(),
  url: z.string(),
});
export type TrialArtifact = z.infer<typeof trialArtifactSchema>;

/**
 * `GET /v1/trials/:id/artifacts`: trial.json and its best/ and final/ files (as trial.json lists
 * them), and the files of each checkpoint the trial state records (as its verified state.json
 * lists them). `GET /v1/trials/:id/artifacts/download?path=` streams any one of them.
 */
export const trialArtifactsResponseSchema = z.object({
  sweepId: sweepIdSchema,
  trialId: trialIdSchema,
  artifacts: z.array(trialArtifactSchema),
  /** Why some files are not listed (trial.json not written yet, a checkpoint already removed). */
  notes: z.array(z.string()),
  urlExpiresInSeconds: z.number().int().min(1),
});
export type TrialArtifactsResponse = z.infer<typeof trialArtifactsResponseSchema>;

/** Query of `GET /v1/trials/:id/artifacts/download`: one path of the listing. */
export const trialArtifactDownloadQuerySchema = z.strictObject({
  path: z.string().min(1).max(300),
});

/** One artifact of the best trial: where it is, and a presigned GET URL for it. */
export const bestArtifactSchema = z.object({
  /** `s3://bucket/runs/<sweepId>/trials/<trialId>/final/model.json` */
  uri: z.string(),
  key: z.string(),
  bytes: z.number().int().min(0),
  sha256: z.string().optional(),
  url: z.string(),
});
export type BestArtifact = z.infer<typeof bestArtifactSchema>;

/**
 * Query of `GET /v1/sweeps/:id/best` and `/best/download`: which epoch's weights, and which trial
 * (`trial`: any trial by number, in place of the best; how a multi-objective sweep's front trial
 * is fetched).
 */
export const bestQuerySchema = z.strictObject({
  epoch: z.enum(ARTIFACT_EPOCHS).default(DEFAULT_ARTIFACT_EPOCH),
  trial: z.coerce.number().int().min(1).max(MAX_TRIALS_LIMIT).optional(),
});

/** `GET /v1/sweeps/:id/best`. */
export const bestTrialResponseSchema = z.object({
  sweepId: sweepIdSchema,
  trialId: trialIdSchema,
  params: paramSetSchema,
  objective: z.object({ metric: z.enum(METRIC_NAMES), goal: z.enum(GOALS) }),
  objectiveValue: z.number(),
  bestEpoch: z.number().int().nullable(),
  /** Which weights `artifacts` are (`?epoch=best|last`, default best) and the epoch they hold. */
  weights: z.enum(ARTIFACT_EPOCHS).default(DEFAULT_ARTIFACT_EPOCH),
  epoch: z.number().int().nullable().default(null),
  /** trial.json (the durable record of the trial); its sha256 as the API read it. */
  trialJson: bestArtifactSchema,
  /**
   * Exactly the files of the chosen weights (best/ or final/) that trial.json lists, with the
   * sha256 trial.json records for each; the tar of /best/download holds these and trial.json.
   */
  artifacts: z.array(bestArtifactSchema),
  /** Seconds the presigned URLs stay valid. */
  urlExpiresInSeconds: z.number().int().min(1),
});
export type BestTrialResponse = z.infer<typeof bestTrialResponseSchema>;

/** One trial of a multi-objective sweep's Pareto front. */
export const paretoFrontTrialSchema = z.object({
  trialId: trialIdSchema,
  trialNumber: z.number().int().min(1),
  params: paramSetSchema,
  /** Its value per objective, in the order of `objectives` (like Optuna's trial.values). */
  values: z.array(z.number()),
});
export type ParetoFrontTrial = z.infer<typeof paretoFrontTrialSchema>;

/**
 * `GET /v1/sweeps/:id/best` of a multi-objective sweep without `?trial=`: the Pareto front (like
 * Optuna's study.best_trials), by trial number. There is no single best/ alias: each front trial
 * keeps its own best/ and final/ weights; fetch one with `?trial=N`.
 */
export const paretoFrontResponseSchema = z.object({
  sweepId: sweepIdSchema,
  objectives: z.array(objectiveViewSchema),
  front: z.array(paretoFrontTrialSchema),
  /** The front's hypervolume and the reference point it is measured against. */
  hypervolume: hypervolumeSchema,
});
export type ParetoFrontResponse = z.infer<typeof paretoFrontResponseSchema>;

/** `GET /readyz`. */
export const readinessSchema = z.object({
  ready: z.boolean(),
  checks: z.object({ redis: z.boolean(), s3: z.boolean() }),
});
export type Readiness = z.infer<typeof readinessSchema>;
