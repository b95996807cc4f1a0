// The hypervolume of a Pareto front (the volume it dominates up to a reference point) and the
// reference point it is measured against when the spec gives none.
import type { Goal } from '@setrain/protocol';

import { hypervolume2d } from './pareto.js';

/** Reads a value as a loss (smaller is better) under its goal. */
const asLoss = (value: number, goal: Goal): number => (goal === 'maximize' ? -value : value);

/**
 * Exact hypervolume, in minimisation form, of `points` against `reference` (each point strictly
 * below the reference in every objective). Slices along the last objective: between consecutive
 * values the cross-section is the hypervolume of the points so far in one dimension fewer (the
 * HSO scheme of While et al. 2006; O(n^(d-1) log n), fine for fronts of hundreds of trials).
 */
function volume(points: readonly (readonly number[])[], reference: readonly number[]): number {
  const d = reference.length;
  if (points.length === 0) return 0;
  if (d === 1) return (reference[0] ?? 0) - Math.min(...points.map((p) => p[0] ?? 0));
  if (d === 2) {
    return hypervolume2d(points, [reference[0] ?? 0, reference[1] ?? 0], ['minimize', 'minimize']);
  }
  const sorted = [...points].sort((a, b) => (a[d - 1] ?? 0) - (b[d - 1] ?? 0));
  let total = 0;
  for (let i = 0; i < sorted.length; i++) {
    const top = sorted[i + 1]?.[d - 1] ?? reference[d - 1] ?? 0;
    const depth = top - (sorted[i]?.[d - 1] ?? 0);
    if (depth <= 0) continue;
    const slice = sorted.slice(0, i + 1).map((p) => p.slice(0, d - 1));
    total += depth * volume(slice, reference.slice(0, d - 1));
  }
  return total;
}

/**
 * Hypervolume of `points` (values in objectives order, read under `goals`) against `reference`:
 * the volume of the region every point of which some point dominates and which the reference
 * bounds (Zitzler and Thiele 1998; what Optuna's `plot_hypervolume_history` and BoTorch's
 * `Hypervolume` compute). Points not strictly better than the reference in every objective add
 * nothing, as in both.
 */
export function hypervolume(
  points: readonly (readonly number[])[],
  reference: readonly number[],
  goals: readonly Goal[],
): number {
  const ref = reference.map((r, i) => asLoss(r, goals[i] ?? 'minimize'));
  const inside = points
    .map((p) => ref.map((_, i) => asLoss(p[i] ?? NaN, goals[i] ?? 'minimize')))
    .filter((p) => p.every((v, i) => v < (ref[i] ?? -Infinity)));
  return volume(inside, ref);
}

/** The margin inferReferencePoint puts beyond the front's worst value, as a share of its range. */
export const REFERENCE_POINT_MARGIN = 0.1;

/**
 * The reference point when the spec gives none, BoTorch's `infer_reference_point` rule: per
 * objective, the front's worst (nadir) value moved 10% of the front's range further towards worse,
 * so every front trial adds volume. When the range is 0 (one trial, or all equal), 10% of the
 * value's magnitude, and 0.1 when the value is 0. Undefined for an empty front.
 */
export function inferReferencePoint(
  front: readonly (readonly number[])[],
  goals: readonly Goal[],
): number[] | undefined {
  if (front.length === 0) return undefined;
  return goals.map((goal, i) => {
    const values = front.map((p) => p[i] ?? NaN);
    const worst = goal === 'maximize' ? Math.min(...values) : Math.max(...values);
    const best = goal === 'maximize' ? Math.max(...values) : Math.min(...values);
    const range = Math.abs(best - worst);
    const margin =
      REFERENCE_POINT_MARGIN * (range > 0 ? range : Math.abs(worst) > 0 ? Math.abs(worst) : 1);
    return goal === 'maximize' ? worst - margin : worst + margin;
  });
}
