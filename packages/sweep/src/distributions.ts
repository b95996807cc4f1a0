import {
  isSearchableParam,
  SEARCHABLE_PARAMS,
  type Distribution,
  type ParamValue,
} from '@setrain/protocol';

import { SweepError } from './errors.js';
import { normalQuantile } from './normal-math.js';
import { type Prng } from './prng.js';

/** Distribution types that need no random number (one value). */
export function isConstant(dist: Distribution): boolean {
  return dist.type === 'constant';
}

/** Number of values of an int_uniform distribution: min, min + step, ... up to max. */
export function intUniformCount(dist: Extract<Distribution, { type: 'int_uniform' }>): number {
  return Math.floor((dist.max - dist.min) / dist.step) + 1;
}

/** Drops the floating-point noise of `k * q` (0.30000000000000004 -> 0.3). */
function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

/**
 * Rounds `x` to the nearest multiple of `q`, kept inside [min, max] when some multiple lies there
 * (a uniform on [0.05, 0.95] with q = 0.1 never yields 1.0).
 */
export function quantize(x: number, q: number, min = -Infinity, max = Infinity): number {
  let k = Math.round(x / q);
  const kMin = Math.ceil(min / q - 1e-9);
  const kMax = Math.floor(max / q + 1e-9);
  if (kMin <= kMax) k = Math.min(Math.max(k, kMin), kMax);
  return tidy(k * q);
}

/** Normalised sampling weights of a `values` distribution (uniform when none are given). */
export function valueWeights(dist: Extract<Distribution, { type: 'values' }>): number[] {
  const raw = dist.probabilities ?? dist.values.map(() => 1);
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((p) => p / total);
}

/**
 * Maps u in [0, 1) to a value of `dist` by its inverse CDF, so one uniform number (random) or one
 * coordinate of a low-discrepancy point (sobol) becomes one parameter value. Monotone in u for
 * numeric distributions; `values` are laid out in spec order with widths equal to their weights.
 */
export function fromUnit(dist: Distribution, u: number): ParamValue {
  const v = Math.min(Math.max(u, 0), 1 - Number.EPSILON);
  switch (dist.type) {
    case 'constant':
      return dist.value;
    case 'values': {
      const weights = valueWeights(dist);
      let cumulative = 0;
      for (let i = 0; i < weights.length; i++) {
        cumulative += weights[i] ?? 0;
        if (v < cumulative && (weights[i] ?? 0) > 0) return dist.values[i] as ParamValue;
      }
      // Rounding left v just above the last cumulative weight: take the last value with weight.
      const last = weights.findLastIndex((w) => w > 0);
      return dist.values[last] as ParamValue;
    }
    case 'uniform': {
      const x = dist.min + v * (dist.max - dist.min);
      return dist.q === undefined ? x : quantize(x, dist.q, dist.min, dist.max);
    }
    case 'log_uniform': {
      const lo = Math.log(dist.min);
      const x = Math.exp(lo + v * (Math.log(dist.max) - lo));
      return dist.q === undefined ? x : quantize(x, dist.q, dist.min, dist.max);
    }
    case 'int_uniform':
      return dist.min + Math.floor(v * intUniformCount(dist)) * dist.step;
    case 'normal': {
      // Keep u off 0 so the quantile stays finite.
      const x = dist.mean + dist.std * normalQuantile(Math.max(v, Number.EPSILON));
      return dist.q === undefined ? x : quantize(x, dist.q);
    }
  }
}

/** Draws one value of `dist` from `rng` (one uniform number through `fromUnit`). */
export function sampleDistribution(dist: Distribution, rng: Prng): ParamValue {
  return dist.type === 'constant' ? dist.value : fromUnit(dist, rng.next());
}

/** The finite set a grid enumerates for `dist`, in order; throws for continuous distributions. */
export function gridValues(name: string, dist: Distribution): ParamValue[] {
  switch (dist.type) {
    case 'constant':
      return [dist.value];
    case 'values':
      return [...dist.values];
    case 'int_uniform':
      return Array.from({ length: intUniformCount(dist) }, (_, i) => dist.min + i * dist.step);
    case 'uniform':
    case 'log_uniform':
    case 'normal':
      throw new SweepError(
        'GRID_NOT_FINITE',
        `grid search needs a finite set for ${name}: use values, constant or int_uniform (got ${dist.type})`,
      );
  }
}

interface NumberBounds {
  minValue: number | null;
  maxValue: number | null;
  isInt?: boolean | null;
}

function hasNumberBounds(schema: unknown): schema is NumberBounds {
  return typeof schema === 'object' && schema !== null && 'minValue' in schema;
}

/**
 * Clips and rounds a sampled value into what the parameter accepts (a normal can land outside a
 * parameter's range; an int parameter needs an integer), using the protocol's validator of that
 * parameter as the source of truth. Unknown names and strings pass through unchanged.
 */
export function fitToParam(name: string, value: ParamValue): ParamValue {
  if (typeof value !== 'number' || !isSearchableParam(name)) return value;
  const param = SEARCHABLE_PARAMS[name];
  if (param.kind === 'enum') return value;
  const schema: unknown = param.value;
  let x = param.kind === 'int' ? Math.round(value) : value;
  if (hasNumberBounds(schema)) {
    if (schema.minValue !== null && x < schema.minValue) x = schema.minValue;
    if (schema.maxValue !== null && x > schema.maxValue) x = schema.maxValue;
  }
  if (param.value.safeParse(x).success) return x;
  // Only an exclusive bound fails after clipping: step inside it.
  const inward = param.kind === 'int' ? 1 : Math.max(Math.abs(x), 1) * 1e-9;
  for (const candidate of [x - inward, x + inward]) {
    if (param.value.safeParse(candidate).success) return candidate;
  }
  return x;
}
