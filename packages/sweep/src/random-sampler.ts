import type { ParamSet } from '@setrain/protocol';

import { fitToParam, sampleDistribution } from './distributions.js';
import { deriveSeed, hashString, Prng } from './prng.js';
import { checkTrialNumber } from './trial-number.js';
import { type Sampler, type SearchSpace, type SuggestContext } from './types.js';

/**
 * Draws parameter `name` of trial `trialNumber` independently of every other draw: its stream is
 * seeded from (seed, trial number, hash of the name), so adding or reordering parameters in a spec
 * leaves the others' values unchanged.
 */
export function sampleIndependent(
  search: Pick<SearchSpace, 'parameters'>,
  seed: number,
  trialNumber: number,
  salt = 0,
): ParamSet {
  const params: ParamSet = {};
  for (const [name, dist] of Object.entries(search.parameters)) {
    const rng = new Prng(deriveSeed(seed, trialNumber, hashString(name), salt));
    params[name] = fitToParam(name, sampleDistribution(dist, rng));
  }
  return params;
}

/** Independent random sampling: trial n's parameters depend only on (seed, n). Never exhausted. */
export class RandomSampler implements Sampler {
  readonly name = 'random';

  constructor(
    private readonly search: Pick<SearchSpace, 'parameters'>,
    private readonly seed: number,
  ) {}

  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    return sampleIndependent(this.search, this.seed, ctx.trialNumber);
  }
}
