import type { ParamSet, ParamValue, SearchRules } from '@setrain/protocol';

import { gridValues } from './distributions.js';
import { SweepError } from './errors.js';
import { rulesOf } from './feasible.js';
import { type Sampler, type SearchSpace, type SuggestContext } from './types.js';
import { checkTrialNumber } from './trial-number.js';

/** Most raw combinations a grid with conditions or constraints may have: it is enumerated to
 * drop infeasible points and the duplicates that inactive parameters leave. */
export const MAX_RULED_GRID_COMBINATIONS = 100_000;

type Axis = { name: string; values: ParamValue[] };

function axesOf(search: Pick<SearchSpace, 'parameters'>): Axis[] {
  return Object.entries(search.parameters).map(([name, dist]) => ({
    name,
    values: gridValues(name, dist),
  }));
}

/** Raw combination `index` (0-based) of the axes, the last axis varying fastest, in spec order. */
function combination(axes: readonly Axis[], index: number): ParamSet {
  const params: ParamSet = {};
  let rest = index;
  for (let i = axes.length - 1; i >= 0; i--) {
    const axis = axes[i];
    if (!axis) continue;
    params[axis.name] = axis.values[rest % axis.values.length] as ParamValue;
    rest = Math.floor(rest / axis.values.length);
  }
  // Re-insert in spec order so the object reads like the spec.
  return Object.fromEntries(axes.map((axis) => [axis.name, params[axis.name] as ParamValue]));
}

/**
 * The feasible points of a grid with rules, in grid order: each combination with its inactive
 * parameters left out, skipped when a constraint fails or when an earlier combination gave the
 * same point (a parameter that is inactive there would otherwise repeat it once per value).
 */
function ruledPoints(axes: readonly Axis[], rules: SearchRules): ParamSet[] {
  const raw = axes.reduce((n, axis) => n * axis.values.length, 1);
  if (raw > MAX_RULED_GRID_COMBINATIONS) {
    throw new SweepError(
      'INVALID_OPTIONS',
      `a grid with conditions or constraints may have at most ${MAX_RULED_GRID_COMBINATIONS} combinations; this one has ${raw}: use fewer values or strategy random`,
    );
  }
  const seen = new Set<string>();
  const points: ParamSet[] = [];
  for (let i = 0; i < raw; i++) {
    const params = rules.apply(combination(axes, i));
    if (params === undefined) continue;
    const key = JSON.stringify(params);
    if (seen.has(key)) continue;
    seen.add(key);
    points.push(params);
  }
  return points;
}

/** Number of points of a grid: the product of each parameter's number of values (1 when empty);
 * with conditions or constraints, the number of distinct feasible points. */
export function gridSize(search: Pick<SearchSpace, 'parameters' | 'constraints'>): number {
  const rules = rulesOf(search);
  const axes = axesOf(search);
  if (rules.active) return ruledPoints(axes, rules).length;
  return axes.reduce((n, axis) => n * axis.values.length, 1);
}

/**
 * The Cartesian product of every parameter's values, in spec order with the LAST parameter varying
 * fastest (like nested loops or itertools.product): trial n is grid point n - 1 in that order.
 * int_uniform enumerates min, min + step, ... <= max; `values` keeps the spec's order. With
 * conditions or constraints, trial n is the n-th distinct feasible point in that order.
 */
export class GridSampler implements Sampler {
  readonly name = 'grid';
  private readonly axes: Axis[];
  private readonly points: ParamSet[] | undefined;
  readonly size: number;

  constructor(search: Pick<SearchSpace, 'parameters' | 'constraints'>) {
    this.axes = axesOf(search);
    const rules = rulesOf(search);
    this.points = rules.active ? ruledPoints(this.axes, rules) : undefined;
    this.size = this.points?.length ?? this.axes.reduce((n, axis) => n * axis.values.length, 1);
  }

  suggest(ctx: SuggestContext): ParamSet | undefined {
    checkTrialNumber(ctx.trialNumber);
    if (ctx.trialNumber > this.size) return undefined;
    return this.points?.[ctx.trialNumber - 1] ?? combination(this.axes, ctx.trialNumber - 1);
  }
}
