import { z } from 'zod';

import type { Distribution } from './search-space.js';

/** Most members a PBT population may have. */
export const MAX_PBT_POPULATION = 256;

/**
 * `search.pbt`: population-based training (strategy pbt). Defaults of the optional fields live in
 * @setrain/sweep (DEFAULT_PBT_*).
 */
export const pbtOptionsSchema = z.strictObject({
  /** Trials trained side by side; the sweep runs exactly this many (maxTrials may be left out). */
  populationSize: z.number().int().min(2).max(MAX_PBT_POPULATION),
  /** Each trial is compared with the population after every this many epochs. */
  perturbationInterval: z.number().int().min(1).max(10_000),
  /** Bottom fraction that exploits, and top fraction it copies from (default 0.25). */
  quantileFraction: z.number().gt(0).max(0.5).optional(),
  /** Chance a parameter is drawn afresh from its distribution instead of perturbed (default 0.25). */
  resampleProbability: z.number().min(0).max(1).optional(),
  /** A perturbed number is multiplied by one of these (default [0.8, 1.2]). */
  perturbationFactors: z.array(z.number().positive().max(100)).min(1).max(10).optional(),
});
export type PbtOptionsSpec = z.infer<typeof pbtOptionsSchema>;

/**
 * Parameters PBT may change while a trial trains: the copied checkpoint's weights and optimizer
 * state still fit. Every other searchable parameter changes the architecture (seRatio,
 * sePlacement, inputSize, headActivation), the optimizer state's layout (optimizer) or the budget
 * (epochs).
 */
export const PBT_MUTABLE_PARAMS = [
  'learningRate',
  'momentum',
  'dropout',
  'batchSize',
  'preprocessing',
] as const;

const WHY_FIXED: Record<string, string> = {
  seRatio: 'changes the model architecture',
  sePlacement: 'changes the model architecture',
  inputSize: 'changes the model architecture',
  headActivation: "changes the model's output layer",
  optimizer: "changes the optimizer state's layout",
  epochs: 'is the budget PBT schedules',
};

/** The parts of a sweep spec PBT checks. */
interface PbtSpecView {
  search: {
    strategy: string;
    parameters: Record<string, Distribution>;
    pbt?: PbtOptionsSpec | undefined;
  };
  training: { epochs: number };
  maxTrials?: number | undefined;
  earlyStopping?: unknown;
}

/** Problems of a pbt sweep spec (none for other strategies), each with its path and a fix. */
export function checkPbtSpec(spec: PbtSpecView): { path: (string | number)[]; message: string }[] {
  const { search } = spec;
  if (search.strategy !== 'pbt') {
    return search.pbt === undefined
      ? []
      : [
          {
            path: ['search', 'pbt'],
            message: `pbt options need strategy pbt; strategy is ${search.strategy}`,
          },
        ];
  }
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (search.pbt === undefined) {
    problems.push({
      path: ['search', 'pbt'],
      message:
        'strategy pbt needs a pbt section, e.g. pbt: { populationSize: 4, perturbationInterval: 2 }',
    });
    return problems;
  }
  const mutable: readonly string[] = PBT_MUTABLE_PARAMS;
  for (const [name, dist] of Object.entries(search.parameters)) {
    if (mutable.includes(name) || dist.type === 'constant') continue;
    problems.push({
      path: ['search', 'parameters', name],
      message: `PBT cannot change ${name} while a trial trains (it ${WHY_FIXED[name] ?? 'cannot change mid-training'}); set it in model/training or as a constant, and search only ${PBT_MUTABLE_PARAMS.join(', ')}`,
    });
  }
  if (search.pbt.perturbationInterval >= spec.training.epochs) {
    problems.push({
      path: ['search', 'pbt', 'perturbationInterval'],
      message: `must be below training.epochs (${spec.training.epochs}), or no trial is ever perturbed`,
    });
  }
  if (spec.maxTrials !== undefined && spec.maxTrials !== search.pbt.populationSize) {
    problems.push({
      path: ['maxTrials'],
      message: `a pbt sweep runs exactly populationSize (${search.pbt.populationSize}) trials; leave maxTrials out`,
    });
  }
  if (spec.earlyStopping !== undefined) {
    problems.push({
      path: ['earlyStopping'],
      message:
        'PBT replaces early stopping (weak trials copy strong ones); leave earlyStopping out',
    });
  }
  return problems;
}
