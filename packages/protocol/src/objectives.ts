// Multi-objective sweeps: the `objectives:` list of a sweep spec, the per-trial metrics it may
// trade against, and what a multi-objective spec may not combine with.
import { z } from 'zod';

import { GOALS, METRIC_NAMES, type Goal, type MetricName, type Objective } from './training.js';

/**
 * Metrics measured once per trial (not per epoch) by the worker, after training: the model's
 * parameter count, its forward latency per image at batch 1 on the worker's engine (median of
 * timed predicts after a warm-up, in milliseconds), and the mean wall-clock seconds of its epochs.
 */
export const TRIAL_METRIC_NAMES = ['param_count', 'latency_ms', 'seconds_per_epoch'] as const;
export type TrialMetricName = (typeof TRIAL_METRIC_NAMES)[number];

/** Metrics an `objectives:` item may name: an epoch metric or a per-trial metric. */
export const OBJECTIVE_METRIC_NAMES = [...METRIC_NAMES, ...TRIAL_METRIC_NAMES] as const;
export type ObjectiveMetricName = (typeof OBJECTIVE_METRIC_NAMES)[number];

/** Most objectives one sweep may list. */
export const MAX_OBJECTIVES = 4;

/** The per-trial metrics of one trial (trial.json `trialMetrics`, trial state `trialMetrics`). */
export const trialMetricsSchema = z.object({
  param_count: z.number().int().min(0),
  latency_ms: z.number().min(0),
  seconds_per_epoch: z.number().min(0),
});
export type TrialMetrics = z.infer<typeof trialMetricsSchema>;

/** One item of `objectives:`. */
export const objectiveItemSchema = z.strictObject({
  metric: z.enum(OBJECTIVE_METRIC_NAMES),
  goal: z.enum(GOALS).default('minimize'),
});
export type ObjectiveItem = z.infer<typeof objectiveItemSchema>;

function isEpochMetric(metric: ObjectiveMetricName): metric is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(metric);
}

/**
 * `objectives:`: 1..MAX_OBJECTIVES distinct metrics, exactly one of them an epoch metric (it picks
 * each trial's best epoch, best/ checkpoint and the value the list reads for it).
 */
export const objectivesSchema = z
  .array(objectiveItemSchema)
  .min(1)
  .max(MAX_OBJECTIVES)
  .superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      if (seen.has(item.metric)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'metric'],
          message: `${item.metric} is listed twice; list each metric once`,
        });
      }
      seen.add(item.metric);
    });
    const epochMetrics = items.filter((i) => isEpochMetric(i.metric));
    if (epochMetrics.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `list exactly one epoch metric (${METRIC_NAMES.join(', ')}; it picks each trial's best epoch) plus any of ${TRIAL_METRIC_NAMES.join(', ')}; got ${epochMetrics.length} epoch metrics`,
      });
    }
  });

/** What the helpers below read of a sweep spec. */
export interface ObjectivesView {
  objective: Objective;
  objectives?: readonly ObjectiveItem[] | undefined;
}

/** The sweep's objectives in spec order; a single `objective:` is a one-item list. */
export function objectivesOf(spec: ObjectivesView): readonly ObjectiveItem[] {
  return spec.objectives ?? [spec.objective];
}

/** True when the sweep optimises two or more objectives (a Pareto front, no single best). */
export function isMultiObjective(spec: ObjectivesView): boolean {
  return objectivesOf(spec).length >= 2;
}

/** The goals of the sweep's objectives, in spec order. */
export function goalsOf(spec: ObjectivesView): Goal[] {
  return objectivesOf(spec).map((o) => o.goal);
}

/** The epoch metric of an objectives list (objectivesSchema guarantees exactly one). */
export function epochObjectiveOf(objectives: readonly ObjectiveItem[]): Objective {
  const found = objectives.find((o) => isEpochMetric(o.metric));
  return {
    metric: found !== undefined && isEpochMetric(found.metric) ? found.metric : 'val_loss',
    goal: found?.goal ?? 'minimize',
  };
}

/**
 * `referencePoint:` the point a multi-objective sweep's hypervolume is measured against, one value
 * per objective in `objectives` order (Optuna's `reference_point`, BoTorch's `ref_point`). Without
 * it the API infers one from the front (see inferReferencePoint in packages/sweep).
 */
export const referencePointSchema = z.array(z.number()).min(2).max(MAX_OBJECTIVES);

/** How a multi-objective sweep's front is scored (sweep detail and GET /best). */
export const hypervolumeSchema = z.object({
  /** The volume the front dominates up to `referencePoint`, objectives read under their goals. */
  value: z.number().min(0),
  /** One value per objective, in `objectives` order. */
  referencePoint: z.array(z.number()),
  /** `spec`: the sweep's `referencePoint:`; `front`: inferred from the current front (it moves). */
  referencePointFrom: z.enum(['spec', 'front']),
});
export type Hypervolume = z.infer<typeof hypervolumeSchema>;

/** What objectiveValuesOf reads of a trial (state or record). */
export interface ObjectiveValuesSource {
  /** The epoch metric's best value over the trial's epochs. */
  objectiveValue: number | null;
  trialMetrics?: TrialMetrics | undefined;
}

/**
 * A trial's value for each objective, in spec order: the epoch metric's best value over its epochs,
 * and the per-trial metrics as measured. Undefined until every one is known and finite.
 */
export function objectiveValuesOf(
  objectives: readonly ObjectiveItem[],
  trial: ObjectiveValuesSource,
): number[] | undefined {
  const values: number[] = [];
  for (const { metric } of objectives) {
    const value = isEpochMetric(metric) ? trial.objectiveValue : trial.trialMetrics?.[metric];
    if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
    values.push(value);
  }
  return values;
}

/** What checkMultiObjectiveSpec reads of a sweep spec. */
export interface MultiObjectiveSpecView {
  objectives?: readonly ObjectiveItem[] | undefined;
  referencePoint?: readonly number[] | undefined;
  search: { strategy: string };
  earlyStopping?: { type: string } | undefined;
  budget?:
    { targetObjective?: number | undefined; noImprovementTrials?: number | undefined } | undefined;
  warmStart?: unknown;
}

const MO_STRATEGIES = ['grid', 'random', 'sobol', 'tpe'];

/**
 * What a spec with two or more objectives may not combine with: early stopping (like Optuna, whose
 * pruners do not support multi-objective studies: there is no single value to compare at a rung),
 * strategies pbt and bohb (both rank trials by one value), a target or no-improvement budget (both
 * need a single best) and warm start (it seeds single-objective history); and a referencePoint
 * must give one value per objective.
 */
export function checkMultiObjectiveSpec(
  spec: MultiObjectiveSpecView,
): { path: (string | number)[]; message: string }[] {
  const count = spec.objectives?.length ?? 0;
  if (spec.referencePoint !== undefined && spec.referencePoint.length !== count) {
    return [
      {
        path: ['referencePoint'],
        message:
          count < 2
            ? 'referencePoint scores a Pareto front; it needs objectives: with two or more items'
            : `referencePoint has ${spec.referencePoint.length} values; give one per objective (${count}, in objectives order)`,
      },
    ];
  }
  if (count < 2) return [];
  const why = 'with several objectives there is no single value to rank trials by';
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (spec.earlyStopping !== undefined) {
    problems.push({
      path: ['earlyStopping'],
      message: `early stopping is not defined for several objectives (${why}); remove earlyStopping or list one objective`,
    });
  }
  if (!MO_STRATEGIES.includes(spec.search.strategy)) {
    problems.push({
      path: ['search', 'strategy'],
      message: `strategy ${spec.search.strategy} supports one objective only (${why}); use ${MO_STRATEGIES.join(', ')} (tpe runs multi-objective TPE)`,
    });
  }
  for (const field of ['targetObjective', 'noImprovementTrials'] as const) {
    if (spec.budget?.[field] !== undefined) {
      problems.push({
        path: ['budget', field],
        message: `budget.${field} needs a single best trial; with several objectives the best is a Pareto front. Remove it or list one objective`,
      });
    }
  }
  if (spec.warmStart !== undefined) {
    problems.push({
      path: ['warmStart'],
      message: 'warmStart supports one objective only; remove it or list one objective',
    });
  }
  return problems;
}
