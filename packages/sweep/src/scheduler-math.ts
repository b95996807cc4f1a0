import { isBetter, type Goal } from '@setrain/protocol';

import { SweepError } from './errors.js';

/** The best of `values` under `goal`, ignoring non-finite ones; undefined when none is finite. */
export function bestOf(goal: Goal, values: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const v of values) {
    if (Number.isFinite(v) && (best === undefined || isBetter(goal, v, best))) best = v;
  }
  return best;
}

/** Linear-interpolation quantile (NumPy's default) of unsorted finite values, q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[hi] ?? NaN;
  return a + (b - a) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Three significant digits, for reasons people read (0.41234 -> "0.412"). */
export function formatValue(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

export function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new SweepError('INVALID_OPTIONS', `epochs are 1-based integers; got ${epoch}`);
  }
}

/** Validates a positive integer option, naming it and what it got. */
export function positiveInt(owner: string, name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SweepError(
      'INVALID_OPTIONS',
      `${owner}: ${name} must be an integer >= ${min}; got ${value}`,
    );
  }
  return value;
}
