import { DEFAULT_RANDOM_MAX_TRIALS } from '@setrain/protocol';

import { BohbSampler } from './bohb-sampler.js';
import { SweepError } from './errors.js';
import { GridSampler, gridSize } from './grid-sampler.js';
import { MotpeSampler } from './motpe-sampler.js';
import { RandomSampler } from './random-sampler.js';
import { SobolSampler } from './sobol-sampler.js';
import { TpeSampler } from './tpe-sampler.js';
import {
  SAMPLER_STRATEGIES,
  type Sampler,
  type SamplerOptions,
  type SearchSpace,
} from './types.js';

/**
 * The sampler of a spec's `search` section. The controller only talks to the `Sampler` interface,
 * so a new strategy is a new class plus one case here. Strategy tpe with two or more
 * `options.goals` is multi-objective TPE (motpe-sampler.ts).
 */
export function createSampler(search: SearchSpace, options: SamplerOptions): Sampler {
  if (!Number.isSafeInteger(options.seed)) {
    throw new SweepError('INVALID_OPTIONS', `seed must be a safe integer; got ${options.seed}`);
  }
  const strategy: string = search.strategy;
  switch (search.strategy) {
    case 'grid':
      return new GridSampler(search);
    case 'random':
      return new RandomSampler(search, options.seed);
    case 'sobol':
      return new SobolSampler(search, options.seed);
    case 'tpe':
      if (options.goals !== undefined && options.goals.length >= 2) {
        return new MotpeSampler(search, options.seed, options.goals, search.tpe);
      }
      return new TpeSampler(search, options.seed, options.goal, search.tpe);
    case 'pbt':
      // PBT's initial population is random; PbtScheduler changes parameters as trials train.
      return new RandomSampler(search, options.seed);
    case 'bohb':
      return new BohbSampler(search, options.seed, options.goal, search.bohb);
    default:
      throw new SweepError(
        'UNKNOWN_STRATEGY',
        `unknown search strategy "${strategy}"; strategies are ${SAMPLER_STRATEGIES.join(', ')}`,
      );
  }
}

/**
 * Trials a sweep will run at most: grid, min(maxTrials, grid size) (all of it by default); the
 * other strategies, maxTrials (default 10); pbt, its population size.
 */
export function plannedTrialCount(spec: {
  search: SearchSpace;
  maxTrials?: number | undefined;
}): number {
  if (spec.search.strategy === 'grid') {
    const size = gridSize(spec.search);
    return Math.min(spec.maxTrials ?? size, size);
  }
  if (spec.search.strategy === 'pbt' && spec.search.pbt !== undefined) {
    return spec.search.pbt.populationSize;
  }
  return spec.maxTrials ?? DEFAULT_RANDOM_MAX_TRIALS;
}

export { gridSize };
