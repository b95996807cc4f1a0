import { z } from 'zod';

import { retentionSchema } from './artifacts.js';
import {
  bohbOptionsSchema,
  checkBohbSpec,
  hyperbandEarlyStoppingSchema,
} from './hyperband-spec.js';
import {
  checkMultiObjectiveSpec,
  epochObjectiveOf,
  objectivesSchema,
  referencePointSchema,
} from './objectives.js';
import { checkPbtSpec, pbtOptionsSchema } from './pbt-spec.js';
import { notifySchema } from './webhook-spec.js';
import { sweepIdSchema } from './ids.js';
import { modelSpecSchema } from './model-args-schema.js';
import {
  checkDistributionForParam,
  distributionSchema,
  isSearchableParam,
  SEARCHABLE_PARAM_NAMES,
} from './search-space.js';
import { MAX_EXPRESSION_LENGTH } from './param-expression.js';
import { MAX_CONSTRAINTS, SearchRules } from './search-rules.js';
import { checkSpecTextSize, parseYamlLinear } from './spec-text-limits.js';
import { objectiveSchema, trainingSpecSchema } from './training.js';

/** Search strategies. grid enumerates every combination of `values`/`constant`/`int_uniform`
 * parameters; random samples every distribution independently from the sweep's seed; sobol
 * spreads trials evenly over the space (scrambled low-discrepancy points); tpe samples at random
 * first, then concentrates on the regions of the best finished trials; pbt trains a random
 * population whose weak members copy strong ones' checkpoints and perturb their parameters; bohb
 * is TPE per budget inside Hyperband (needs earlyStopping hyperband). */
export const STRATEGIES = ['grid', 'random', 'sobol', 'tpe', 'pbt', 'bohb'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const DEFAULT_PARALLELISM = 1;
export const DEFAULT_MAX_FAILED_TRIALS = 3;
export const DEFAULT_RANDOM_MAX_TRIALS = 10;
export const MAX_TRIALS_LIMIT = 10_000;

export const datasetUriSchema = z
  .string()
  .regex(
    /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(.+\/)?manifest\.jsonl$/,
    'must be the s3:// URI of a dataset manifest, e.g. s3://bucket/datasets/shapes/manifest.jsonl',
  );

const nameSchema = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[\w .:/-]+$/, 'may hold letters, digits, spaces and _ . : / - only');

/** TPE options; defaults live in @setrain/sweep (DEFAULT_TPE_*). */
export const tpeOptionsSchema = z.strictObject({
  /** Trials 1..startupTrials are sampled at random before TPE takes over (default 10). */
  startupTrials: z.number().int().min(0).max(MAX_TRIALS_LIMIT).optional(),
  /** Candidates drawn per parameter; the one with the best l(x)/g(x) wins (default 24). */
  candidates: z.number().int().min(1).max(1000).optional(),
  /** Fraction of finished trials that form the good group (default 0.25). */
  gamma: z.number().gt(0).lt(1).optional(),
  /** Weight of the spec's distribution in each Parzen estimator (default 1). */
  priorWeight: z.number().positive().max(1000).optional(),
  /** Count queued/running trials as the worst finished value (default true). */
  constantLiar: z.boolean().optional(),
});
export type TpeOptionsSpec = z.infer<typeof tpeOptionsSchema>;

const searchSchema = z
  .strictObject({
    strategy: z.enum(STRATEGIES).default('grid'),
    parameters: z.record(z.string(), distributionSchema).default({}),
    tpe: tpeOptionsSchema.optional(),
    pbt: pbtOptionsSchema.optional(),
    bohb: bohbOptionsSchema.optional(),
    /** Conditions every trial's parameters must meet, e.g. `batchSize * inputSize <= 32768`
     * (param-expression.ts); points that break one are never run. */
    constraints: z
      .array(z.string().min(1).max(MAX_EXPRESSION_LENGTH))
      .max(MAX_CONSTRAINTS)
      .optional(),
  })
  .default({ strategy: 'grid', parameters: {} })
  .superRefine((search, ctx) => {
    for (const problem of new SearchRules(search).problems) {
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    }
    if (search.strategy === 'pbt') {
      // PBT's explore step perturbs parameters mid-training; it does not re-check rules.
      const ruled = [
        ...(search.constraints !== undefined ? [['constraints']] : []),
        ...Object.entries(search.parameters).flatMap(([name, d]) =>
          d.when !== undefined ? [['parameters', name, 'when']] : [],
        ),
      ];
      for (const path of ruled) {
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            'strategy pbt does not support conditions or constraints; use grid, random, sobol or tpe',
        });
      }
    }
    if (search.tpe !== undefined && search.strategy !== 'tpe' && search.strategy !== 'bohb') {
      ctx.addIssue({
        code: 'custom',
        path: ['tpe'],
        message: `tpe options need strategy tpe or bohb; strategy is ${search.strategy}`,
      });
    }
    for (const [name, dist] of Object.entries(search.parameters)) {
      if (!isSearchableParam(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', name],
          message: `unknown parameter "${name}"; searchable parameters are ${SEARCHABLE_PARAM_NAMES.join(', ')}`,
        });
        continue;
      }
      for (const problem of checkDistributionForParam(name, dist)) {
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', name, ...problem.path],
          message: problem.message,
        });
      }
      if (
        search.strategy === 'grid' &&
        !['constant', 'values', 'int_uniform'].includes(dist.type)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', name, 'type'],
          message: `grid search needs a finite set: use values, constant or int_uniform for ${name}, or strategy random`,
        });
      }
    }
  });

export const EARLY_STOPPING_TYPES = ['median', 'asha', 'hyperband'] as const;
export type EarlyStoppingType = (typeof EARLY_STOPPING_TYPES)[number];

/** Early-stopping rules; defaults live in @setrain/sweep (DEFAULT_MEDIAN_*, DEFAULT_ASHA_*). */
export const earlyStoppingSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('median'),
    /** No trial is stopped before it has run this many epochs (default 1). */
    minEpochs: z.number().int().min(1).max(10_000).optional(),
    /** Decide only once this many other trials have reached the epoch (default 3). */
    minTrials: z.number().int().min(1).max(MAX_TRIALS_LIMIT).optional(),
  }),
  z
    .strictObject({
      type: z.literal('asha'),
      /** First rung's epoch; rung k is at minEpochs * reductionFactor^k (default 1). */
      minEpochs: z.number().int().min(1).max(10_000).optional(),
      /** Keep the top 1/reductionFactor at each rung (default 3). */
      reductionFactor: z.number().int().min(2).max(100).optional(),
      /** Full budget; rungs lie below it (default: the most epochs a trial can run). */
      maxEpochs: z.number().int().min(2).max(10_000).optional(),
    })
    .refine((d) => d.maxEpochs === undefined || d.maxEpochs > (d.minEpochs ?? 1), {
      error: 'maxEpochs must exceed minEpochs',
      path: ['maxEpochs'],
    }),
  hyperbandEarlyStoppingSchema,
]);
export type EarlyStopping = z.infer<typeof earlyStoppingSchema>;

/** Longest wall-clock budget a sweep may ask for (one year). */
export const MAX_WALL_CLOCK_SECONDS = 365 * 24 * 3600;
/** Most sweeps one spec may warm-start from. */
export const MAX_WARM_START_SWEEPS = 20;

/**
 * Stop criteria besides maxTrials/maxFailedTrials. When one fires the sweep ends `completed` with a
 * `reason` naming it; trials still running are cancelled and nothing new is enqueued.
 */
export const budgetSchema = z.strictObject({
  /** Seconds since the sweep was created (paused time included) after which it stops. */
  maxWallClockSeconds: z.number().int().min(1).max(MAX_WALL_CLOCK_SECONDS).optional(),
  /** Stop once a finished trial's objective is at least this good (<= when minimising). */
  targetObjective: z.number().optional(),
  /** Stop once this many finished trials numbered after the best one did not beat it. */
  noImprovementTrials: z.number().int().min(1).max(MAX_TRIALS_LIMIT).optional(),
});
export type Budget = z.infer<typeof budgetSchema>;

/**
 * Seeds the sampler's history with the finished trials (completed or early-stopped) of earlier
 * sweeps that optimise the same objective, where every searched parameter's value lies inside this
 * sweep's space. Only TPE uses history; grid, random and sobol ignore it.
 */
export const warmStartSchema = z.strictObject({
  sweeps: z.array(sweepIdSchema).min(1).max(MAX_WARM_START_SWEEPS),
});
export type WarmStart = z.infer<typeof warmStartSchema>;

/** A hyperparameter sweep, as submitted in YAML or JSON. Unknown fields are errors. */
export const sweepSpecSchema = z
  .strictObject({
    name: nameSchema.optional(),
    dataset: datasetUriSchema,
    model: modelSpecSchema,
    training: trainingSpecSchema,
    search: searchSchema,
    /**
     * One metric to optimise. With `objectives` it is not given by the user: parseSweepSpec sets it
     * to the list's epoch metric (what picks each trial's best epoch and best/ checkpoint).
     */
    objective: objectiveSchema,
    /** Several metrics to optimise at once (objectives.ts); the best is then a Pareto front. */
    objectives: objectivesSchema.optional(),
    /** Where the front's hypervolume is measured from (objectives.ts); inferred when absent. */
    referencePoint: referencePointSchema.optional(),
    /** Trials to run in all. grid: at most the grid's size (default: all of it); others: default 10. */
    maxTrials: z.number().int().min(1).max(MAX_TRIALS_LIMIT).optional(),
    /** Trials running at once. */
    parallelism: z.number().int().min(1).max(256).default(DEFAULT_PARALLELISM),
    /** The sweep fails once this many trials have failed. */
    maxFailedTrials: z
      .number()
      .int()
      .min(0)
      .max(MAX_TRIALS_LIMIT)
      .default(DEFAULT_MAX_FAILED_TRIALS),
    /** Stop unpromising trials early; without it every trial runs its full budget. */
    earlyStopping: earlyStoppingSchema.optional(),
    /** Wall-clock budget, target objective, no-improvement stop. */
    budget: budgetSchema.optional(),
    /** Earlier sweeps whose results seed the sampler (TPE). */
    warmStart: warmStartSchema.optional(),
    /** Which checkpoints and trials keep their artifacts (see artifacts.ts); default latest-and-best, all. */
    retention: retentionSchema.optional(),
    /** Webhooks that get this sweep's state changes and new best trials (signed; see webhooks.ts). */
    notify: notifySchema.optional(),
  })
  .superRefine((spec, ctx) => {
    for (const problem of checkPbtSpec(spec)) ctx.addIssue({ code: 'custom', ...problem });
    for (const problem of checkBohbSpec(spec)) ctx.addIssue({ code: 'custom', ...problem });
    for (const problem of checkMultiObjectiveSpec(spec)) {
      ctx.addIssue({ code: 'custom', ...problem });
    }
  });
export type SweepSpecInput = z.input<typeof sweepSpecSchema>;
export type SweepSpec = z.output<typeof sweepSpecSchema>;

/** One training run (`POST /v1/jobs`): a sweep of exactly one trial with no search. */
export const jobSpecSchema = z.strictObject({
  name: nameSchema.optional(),
  dataset: datasetUriSchema,
  model: modelSpecSchema,
  training: trainingSpecSchema,
  objective: objectiveSchema,
});
export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobSpec = z.output<typeof jobSpecSchema>;

/** The equivalent one-trial sweep of a job. */
export function jobToSweepSpec(job: JobSpec): SweepSpec {
  return {
    ...job,
    search: { strategy: 'grid', parameters: {} },
    maxTrials: 1,
    parallelism: 1,
    maxFailedTrials: 0,
  };
}

/** One problem with a spec: where (`search.parameters.dropout.max`) and what. */
export interface SpecIssue {
  path: string;
  message: string;
}

/** An issue as one line: `path: message`, or the message alone when it has no path. */
export function formatSpecIssue(issue: SpecIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

/** A spec that does not parse or validate; `issues` name each field. */
export class SpecError extends Error {
  readonly code = 'SPEC_INVALID';
  constructor(readonly issues: SpecIssue[]) {
    super(issues.map(formatSpecIssue).join('; '));
    this.name = 'SpecError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

/** zod issues as SpecIssues with readable messages (unknown keys are named). */
export function toSpecIssues(error: z.ZodError): SpecIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return {
        path: formatPath(issue.path),
        message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
      };
    }
    return { path: formatPath(issue.path), message: issue.message };
  });
}

/**
 * Parses spec text: JSON when it looks like JSON, YAML otherwise (YAML is a superset anyway).
 * Throws SpecTooLargeError over MAX_SPEC_TEXT_BYTES and SpecError for text that does not parse or
 * breaks a YAML limit (duplicate keys, aliases, depth); the parse is linear in the text's size.
 */
export function parseSpecText(text: string): unknown {
  checkSpecTextSize(text);
  const trimmed = text.trimStart();
  try {
    return trimmed.startsWith('{') ? (JSON.parse(text) as unknown) : parseYamlLinear(text);
  } catch (err) {
    const format = trimmed.startsWith('{') ? 'JSON' : 'YAML';
    throw new SpecError([
      { path: '', message: `not valid ${format}: ${(err as Error).message.split('\n')[0]}` },
    ]);
  }
}

function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new SpecError([
      { path: '', message: 'a spec must be an object (a YAML mapping or JSON object)' },
    ]);
  }
  const result = schema.safeParse(input);
  if (!result.success) throw new SpecError(toSpecIssues(result.error));
  return result.data;
}

/**
 * Validates a sweep spec (already-parsed YAML/JSON); throws SpecError naming every bad field. A
 * spec gives `objective` (one metric) or `objectives` (a list), not both; with `objectives` the
 * parsed spec's `objective` is the list's epoch metric.
 */
export function parseSweepSpec(input: unknown): SweepSpec {
  if (
    input !== null &&
    typeof input === 'object' &&
    'objective' in input &&
    'objectives' in input
  ) {
    throw new SpecError([
      {
        path: 'objectives',
        message:
          'give either objective (one metric) or objectives (a list of metric/goal pairs), not both',
      },
    ]);
  }
  const spec = validate(sweepSpecSchema, input);
  return spec.objectives === undefined
    ? spec
    : { ...spec, objective: epochObjectiveOf(spec.objectives) };
}

/** Validates a single-job spec; throws SpecError naming every bad field. */
export function parseJobSpec(input: unknown): JobSpec {
  return validate(jobSpecSchema, input);
}
