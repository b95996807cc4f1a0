import {
  DEFAULT_DROPOUT,
  DEFAULT_HEAD_ACTIVATION,
  DEFAULT_INPUT_SIZE,
  DEFAULT_PREPROCESSING,
  DEFAULT_SE_PLACEMENT,
  DEFAULT_SE_RATIO,
  HEAD_ACTIVATIONS,
  MAX_INPUT_SIZE,
  MAX_NUM_CLASSES,
  MAX_SE_RATIO,
  MIN_INPUT_SIZE,
  MIN_SE_RATIO,
  PREPROCESSINGS,
  SE_PLACEMENTS,
  type SeInceptionV3Args,
} from '@setrain/protocol';

import { ModelArgsError } from './model-args-error.js';

/** Seed used when SeInceptionV3Args.seed is omitted. */
export const DEFAULT_SEED = 0;

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function integerInRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ModelArgsError(
      field,
      `${field} must be an integer in ${min}..${max}; got ${describe(value)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ModelArgsError(
      field,
      `${field} must be one of ${allowed.join(', ')}; got ${describe(value)}`,
    );
  }
  return value as T;
}

/**
 * Checks SE-Inception v3 arguments and fills in the defaults. Throws a ModelArgsError naming the
 * field, the bad value and what is allowed.
 */
export function validateSeInceptionV3Args(args: SeInceptionV3Args): Required<SeInceptionV3Args> {
  const inputSize = integerInRange(
    'inputSize',
    args.inputSize ?? DEFAULT_INPUT_SIZE,
    MIN_INPUT_SIZE,
    MAX_INPUT_SIZE,
  );
  const numClasses = integerInRange('numClasses', args.numClasses, 1, MAX_NUM_CLASSES);
  // The top SE block squeezes the 2048-channel map, so a ratio above 2048 leaves no units.
  const seRatio = integerInRange(
    'seRatio',
    args.seRatio ?? DEFAULT_SE_RATIO,
    MIN_SE_RATIO,
    MAX_SE_RATIO,
  );
  const dropout = args.dropout ?? DEFAULT_DROPOUT;
  if (typeof dropout !== 'number' || !Number.isFinite(dropout) || dropout < 0 || dropout >= 1) {
    throw new ModelArgsError(
      'dropout',
      `dropout must be a number in [0, 1); got ${describe(dropout)}`,
    );
  }
  const sePlacement = oneOf('sePlacement', args.sePlacement ?? DEFAULT_SE_PLACEMENT, SE_PLACEMENTS);
  const headActivation = oneOf(
    'headActivation',
    args.headActivation ?? DEFAULT_HEAD_ACTIVATION,
    HEAD_ACTIVATIONS,
  );
  const preprocessing = oneOf(
    'preprocessing',
    args.preprocessing ?? DEFAULT_PREPROCESSING,
    PREPROCESSINGS,
  );
  const seed = integerInRange(
    'seed',
    args.seed ?? DEFAULT_SEED,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  );
  return {
    inputSize,
    numClasses,
    seRatio,
    dropout,
    sePlacement,
    headActivation,
    preprocessing,
    seed,
  };
}
