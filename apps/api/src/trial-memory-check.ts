import {
  estimateTrialMemory,
  isSearchableParam,
  type Distribution,
  type ApiIssue,
  type SweepSpec,
  type TrialMemoryParams,
} from '@setrain/protocol';

import { ApiError } from './errors.js';

/** The fields the memory estimate depends on, with the spec section their base value sits in. */
const MEMORY_FIELDS = {
  inputSize: 'model',
  batchSize: 'training',
  seRatio: 'model',
  sePlacement: 'model',
  optimizer: 'training',
  momentum: 'training',
} as const;
type MemoryField = keyof typeof MEMORY_FIELDS;
const MEMORY_FIELD_NAMES = Object.keys(MEMORY_FIELDS) as MemoryField[];

/** The values of one field a trial can get, and the spec path they come from. */
interface FieldReach {
  readonly path: string;
  /** Numeric fields: the smallest and largest value (memory is monotone in each); enums: all. */
  readonly candidates: readonly (number | string | undefined)[];
}

/** The extremes of a distribution: every value of a finite set, the bounds of a range. */
function extremes(dist: Distribution): (number | string)[] {
  switch (dist.type) {
    case 'constant':
      return [dist.value];
    case 'values': {
      const numbers = dist.values.filter((v): v is number => typeof v === 'number');
      const strings = dist.values.filter((v): v is string => typeof v === 'string');
      return numbers.length === 0
        ? [...new Set(strings)]
        : [Math.min(...numbers), Math.max(...numbers), ...new Set(strings)];
    }
    case 'uniform':
    case 'log_uniform':
    case 'int_uniform':
      return [dist.min, dist.max];
    case 'normal':
      // Only momentum (a float) may be normal; its sign is all the estimate uses.
      return [dist.mean, dist.mean + 3 * dist.std];
  }
}

function reachOf(spec: SweepSpec, field: MemoryField): FieldReach {
  const dist = spec.search.parameters[field];
  if (dist !== undefined && isSearchableParam(field)) {
    return { path: `search.parameters.${field}`, candidates: extremes(dist) };
  }
  const section = MEMORY_FIELDS[field];
  const base: Readonly<Record<string, unknown>> = section === 'model' ? spec.model : spec.training;
  const value = base[field];
  return {
    path: `${section}.${field}`,
    candidates: [typeof value === 'number' || typeof value === 'string' ? value : undefined],
  };
}

/** Every combination of the fields' candidates (at most a few dozen). */
function combinations(reach: Record<MemoryField, FieldReach>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const field of MEMORY_FIELD_NAMES) {
    out = out.flatMap((partial) =>
      reach[field].candidates.map((value) => ({ ...partial, [field]: value })),
    );
  }
  return out;
}

/** The largest estimate a trial of the spec can reach, and the parameters that reach it. */
export function worstCaseTrialMemory(spec: SweepSpec, numClasses: number) {
  const reach = Object.fromEntries(
    MEMORY_FIELD_NAMES.map((field) => [field, reachOf(spec, field)]),
  ) as Record<MemoryField, FieldReach>;
  let worst: { params: TrialMemoryParams; totalBytes: number } | undefined;
  for (const combination of combinations(reach)) {
    const params = { ...combination, numClasses } as TrialMemoryParams;
    const { totalBytes } = estimateTrialMemory(params);
    if (worst === undefined || totalBytes > worst.totalBytes) worst = { params, totalBytes };
  }
  // combinations() always yields at least one entry.
  return { ...(worst as { params: TrialMemoryParams; totalBytes: number }), reach };
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Refuses a spec whose largest trial may need more than `budgetBytes` (SETRAIN_MAX_TRIAL_MEMORY_BYTES):
 * 400 TRIAL_MEMORY_EXCEEDED naming inputSize and batchSize (activations grow with their product)
 * and the fields that set the parameter count. `numClasses` is the dataset's when known.
 */
export function checkTrialMemory(spec: SweepSpec, budgetBytes: number, numClasses = 1): void {
  const worst = worstCaseTrialMemory(spec, numClasses);
  if (worst.totalBytes <= budgetBytes) return;
  const { params, reach } = worst;
  const named = (field: MemoryField) =>
    `${reach[field].path} ${String(params[field] ?? 'default')}`;
  const issues: ApiIssue[] = [
    {
      path: reach.inputSize.path,
      message: `inputSize up to ${String(params.inputSize ?? 'default')} with batchSize up to ${String(params.batchSize ?? 'default')} needs about ${gib(worst.totalBytes)} per trial; lower one of them`,
    },
    {
      path: reach.batchSize.path,
      message: `batchSize up to ${String(params.batchSize ?? 'default')}`,
    },
  ];
  throw new ApiError(
    'TRIAL_MEMORY_EXCEEDED',
    {
      estimate: Math.ceil(worst.totalBytes),
      budget: budgetBytes,
      detail: `about ${gib(worst.totalBytes)} with ${named('inputSize')}, ${named('batchSize')}, ${named('seRatio')}, ${named('sePlacement')}, ${named('optimizer')} and ${numClasses} classes, against ${gib(budgetBytes)}; lower inputSize or batchSize`,
    },
    issues,
  );
}
