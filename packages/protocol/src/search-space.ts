import { z } from 'zod';

import {
  HEAD_ACTIVATIONS,
  MAX_INPUT_SIZE,
  MAX_SE_RATIO,
  MIN_INPUT_SIZE,
  MIN_SE_RATIO,
  PREPROCESSINGS,
  SE_PLACEMENTS,
} from './model-args.js';
import { MAX_EXPRESSION_LENGTH } from './param-expression.js';
import { OPTIMIZERS } from './training.js';

/** A sampled hyperparameter value. */
export type ParamValue = number | string;
/** One trial's sampled hyperparameters, by parameter name. */
export type ParamSet = Record<string, ParamValue>;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** `when:` on a parameter: it is searched only where this condition over the other parameters
 * holds (see param-expression.ts); elsewhere it is left out and the spec's own value applies. */
const when = {
  when: z.string().min(1).max(MAX_EXPRESSION_LENGTH).optional(),
};

/**
 * Distributions a search space may use. `q` quantises a continuous value to multiples of q.
 * In YAML a bare list is shorthand for `{ type: values, values: [...] }` and a bare scalar for
 * `{ type: constant, value: ... }`.
 */
export const distributionSchema = z.preprocess(
  (input) => {
    if (Array.isArray(input)) return { type: 'values', values: input };
    if (typeof input === 'number' || typeof input === 'string') {
      return { type: 'constant', value: input };
    }
    return input;
  },
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('constant'), value: z.union([finite, z.string()]), ...when }),
    z
      .strictObject({
        type: z.literal('values'),
        ...when,
        values: z.array(z.union([finite, z.string()])).min(1),
        /** Optional sampling weights for random-style samplers; normalised, same length as values. */
        probabilities: z.array(z.number().min(0)).optional(),
      })
      .refine((d) => !d.probabilities || d.probabilities.length === d.values.length, {
        error: 'probabilities must have one entry per value',
        path: ['probabilities'],
      })
      .refine((d) => !d.probabilities || d.probabilities.some((p) => p > 0), {
        error: 'probabilities must not all be zero',
        path: ['probabilities'],
      }),
    z
      .strictObject({
        type: z.literal('uniform'),
        ...when,
        min: finite,
        max: finite,
        q: finite.positive().optional(),
      })
      .refine((d) => d.min < d.max, { error: 'min must be below max', path: ['max'] }),
    z
      .strictObject({
        type: z.literal('log_uniform'),
        ...when,
        min: finite.positive(),
        max: finite.positive(),
        q: finite.positive().optional(),
      })
      .refine((d) => d.min < d.max, { error: 'min must be below max', path: ['max'] }),
    z
      .strictObject({
        type: z.literal('int_uniform'),
        ...when,
        min: z.number().int(),
        max: z.number().int(),
        step: z.number().int().positive().default(1),
      })
      .refine((d) => d.min <= d.max, { error: 'min must not exceed max', path: ['max'] }),
    z.strictObject({
      type: z.literal('normal'),
      ...when,
      mean: finite,
      std: finite.positive(),
      q: finite.positive().optional(),
    }),
  ]),
);
export type Distribution = z.infer<typeof distributionSchema>;
export const DISTRIBUTION_TYPES = [
  'constant',
  'values',
  'uniform',
  'log_uniform',
  'int_uniform',
  'normal',
] as const;

type ParamKind = 'int' | 'float' | 'enum';

interface SearchableParam {
  /** Which section of the resolved trial config the value goes into. */
  section: 'model' | 'training';
  kind: ParamKind;
  /** Validates one concrete value of this parameter. */
  value: z.ZodType<ParamValue>;
}

/** The hyperparameters a sweep may search over, with the values each accepts. */
export const SEARCHABLE_PARAMS = {
  seRatio: {
    section: 'model',
    kind: 'int',
    value: z.number().int().min(MIN_SE_RATIO).max(MAX_SE_RATIO),
  },
  dropout: { section: 'model', kind: 'float', value: z.number().min(0).lt(1) },
  sePlacement: { section: 'model', kind: 'enum', value: z.enum(SE_PLACEMENTS) },
  headActivation: { section: 'model', kind: 'enum', value: z.enum(HEAD_ACTIVATIONS) },
  preprocessing: { section: 'model', kind: 'enum', value: z.enum(PREPROCESSINGS) },
  inputSize: {
    section: 'model',
    kind: 'int',
    value: z.number().int().min(MIN_INPUT_SIZE).max(MAX_INPUT_SIZE),
  },
  learningRate: { section: 'training', kind: 'float', value: z.number().gt(0).max(10) },
  batchSize: { section: 'training', kind: 'int', value: z.number().int().min(1).max(4096) },
  optimizer: { section: 'training', kind: 'enum', value: z.enum(OPTIMIZERS) },
  momentum: { section: 'training', kind: 'float', value: z.number().min(0).lt(1) },
  epochs: { section: 'training', kind: 'int', value: z.number().int().min(1).max(10_000) },
} as const satisfies Record<string, SearchableParam>;
export type SearchableParamName = keyof typeof SEARCHABLE_PARAMS;
export const SEARCHABLE_PARAM_NAMES = Object.keys(SEARCHABLE_PARAMS) as SearchableParamName[];

export function isSearchableParam(name: string): name is SearchableParamName {
  return Object.hasOwn(SEARCHABLE_PARAMS, name);
}

const ALLOWED_TYPES: Record<ParamKind, readonly Distribution['type'][]> = {
  enum: ['constant', 'values'],
  int: ['constant', 'values', 'int_uniform'],
  float: ['constant', 'values', 'uniform', 'log_uniform', 'normal'],
};

/** Checks that a distribution fits its parameter: allowed type, and every reachable bound valid.
 * Returns problems as `{ path, message }` relative to the parameter. */
export function checkDistributionForParam(
  name: SearchableParamName,
  dist: Distribution,
): { path: (string | number)[]; message: string }[] {
  const param: SearchableParam = SEARCHABLE_PARAMS[name];
  const problems: { path: (string | number)[]; message: string }[] = [];
  const allowed = ALLOWED_TYPES[param.kind];
  if (!allowed.includes(dist.type)) {
    problems.push({
      path: ['type'],
      message: `${name} is ${param.kind === 'enum' ? 'categorical' : `an ${param.kind} parameter`}; type must be one of ${allowed.join(', ')}; got "${dist.type}"`,
    });
    return problems;
  }
  const check = (value: ParamValue, path: (string | number)[]) => {
    const result = param.value.safeParse(value);
    if (!result.success) {
      problems.push({
        path,
        message: `${name} value ${JSON.stringify(value)} is invalid: ${result.error.issues[0]?.message ?? 'invalid'}`,
      });
    }
  };
  switch (dist.type) {
    case 'constant':
      check(dist.value, ['value']);
      break;
    case 'values':
      dist.values.forEach((v, i) => {
        check(v, ['values', i]);
      });
      break;
    case 'uniform':
    case 'log_uniform':
    case 'int_uniform':
      check(dist.min, ['min']);
      check(dist.max, ['max']);
      break;
    case 'normal':
      // Unbounded: samples are clipped to the parameter's range by samplers; check the mean.
      check(dist.mean, ['mean']);
      break;
  }
  return problems;
}
