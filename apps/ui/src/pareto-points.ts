/**
 * What the Pareto front panel plots: each finished trial's value per objective (the values the API
 * ranks the front by, as protocol's objectiveValuesOf reads them: the epoch metric's best value and
 * the per-trial metrics) and a linear 0..1 scale per objective over those values.
 */
import { type ObjectiveItem, type TrialMetrics, type TrialSummary } from '@setrain/protocol';

/**
 * A trial's value per objective, undefined until all are known and finite. objectiveValuesOf's
 * reading, written out here because importing it at runtime bundles protocol's zod schemas (3x the
 * dashboard's size); pareto-points.test.ts checks the two agree.
 */
export function valuesOf(
  objectives: readonly ObjectiveItem[],
  trial: TrialSummary,
): number[] | undefined {
  const values: number[] = [];
  for (const { metric } of objectives) {
    const value =
      metric === 'param_count' || metric === 'latency_ms' || metric === 'seconds_per_epoch'
        ? trial.trialMetrics?.[metric satisfies keyof TrialMetrics]
        : trial.objectiveValue;
    if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
    values.push(value);
  }
  return values;
}

export interface ParetoPoint {
  readonly trialId: string;
  readonly trialNumber: number;
  /** One value per objective, in objectives order. */
  readonly values: readonly number[];
}

/** The finished trials (completed or early-stopped) with every objective value known. */
export function paretoPointsOf(
  objectives: readonly ObjectiveItem[],
  trials: readonly TrialSummary[],
): ParetoPoint[] {
  return trials.flatMap((t) => {
    if (t.status !== 'completed' && t.status !== 'early-stopped') return [];
    const values = valuesOf(objectives, t);
    return values === undefined ? [] : [{ trialId: t.trialId, trialNumber: t.trialNumber, values }];
  });
}

/** A linear map of objective `index` over the points onto 0 (smallest) .. 1 (largest). */
export function axisScale(
  points: readonly ParetoPoint[],
  index: number,
): { min: number; max: number; at: (value: number) => number } {
  const values = points.map((p) => p.values[index] ?? 0);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min;
  // One distinct value: every point in the middle.
  return { min, max, at: (v) => (span > 0 ? (v - min) / span : 0.5) };
}
