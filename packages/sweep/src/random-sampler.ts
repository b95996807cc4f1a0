import type { ParamSet, SearchRules } from '@setrain/protocol';

import { fitToParam, sampleDistribution } from './distributions.js';
import { firstFeasible, RETRY_SALT, rulesOf } from './feasible.js';
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

/**
 * A random feasible point for trial `trialNumber`: draw 0 is `sampleIndependent` with no salt,
 * draw k > 0 (after infeasible ones) the same with salt RETRY_SALT + k; parameters whose `when:`
 * fails are left out.
 */
export function sampleFeasible(
  search: Pick<SearchSpace, 'parameters'>,
  rules: SearchRules,
  seed: number,
  trialNumber: number,
): ParamSet {
  return firstFeasible(
    rules,
    (attempt) =>
      sampleIndependent(search, seed, trialNumber, attempt === 0 ? 0 : RETRY_SALT + attempt),
    `random draws for trial ${trialNumber}`,
  );
}

/**
 * Independent random sampling: trial n's parameters depend only on (seed, n). Never exhausted.
 * With constraints, infeasible draws are redrawn (rejection sampling, up to MAX_FEASIBILITY_DRAWS).
 */
export class RandomSampler implements Sampler {
  readonly name = 'random';
  private readonly rules: SearchRules;

  constructor(
    private readonly search: Pick<SearchSpace, 'parameters' | 'constraints'>,
    private readonly seed: number,
  ) {
    this.rules = rulesOf(search);
  }

  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    return sampleFeasible(this.search, this.rules, this.seed, ctx.trialNumber);
  }
}
