import type { ParamSet, ParamValue } from '@setrain/protocol';

import { gridValues } from './distributions.js';
import { type Sampler, type SearchSpace, type SuggestContext } from './types.js';
import { checkTrialNumber } from './trial-number.js';

/** Number of points of a grid: the product of each parameter's number of values (1 when empty). */
export function gridSize(search: Pick<SearchSpace, 'parameters'>): number {
  let size = 1;
  for (const [name, dist] of Object.entries(search.parameters)) {
    size *= gridValues(name, dist).length;
  }
  return size;
}

/**
 * The Cartesian product of every parameter's values, in spec order with the LAST parameter varying
 * fastest (like nested loops or itertools.product): trial n is grid point n - 1 in that order.
 * int_uniform enumerates min, min + step, ... <= max; `values` keeps the spec's order.
 */
export class GridSampler implements Sampler {
  readonly name = 'grid';
  private readonly axes: { name: string; values: ParamValue[] }[];
  readonly size: number;

  constructor(search: Pick<SearchSpace, 'parameters'>) {
    this.axes = Object.entries(search.parameters).map(([name, dist]) => ({
      name,
      values: gridValues(name, dist),
    }));
    this.size = this.axes.reduce((n, axis) => n * axis.values.length, 1);
  }

  suggest(ctx: SuggestContext): ParamSet | undefined {
    checkTrialNumber(ctx.trialNumber);
    if (ctx.trialNumber > this.size) return undefined;
    let index = ctx.trialNumber - 1;
    const params: ParamSet = {};
    for (let i = this.axes.length - 1; i >= 0; i--) {
      const axis = this.axes[i];
      if (!axis) continue;
      params[axis.name] = axis.values[index % axis.values.length] as ParamValue;
      index = Math.floor(index / axis.values.length);
    }
    // Re-insert in spec order so the object reads like the spec.
    return Object.fromEntries(
      this.axes.map((axis) => [axis.name, params[axis.name] as ParamValue]),
    );
  }
}
