import type { Distribution, ParamSet } from '@setrain/protocol';

import { fitToParam, fromUnit } from './distributions.js';
import { SobolSequence } from './sobol-sequence.js';
import { checkTrialNumber } from './trial-number.js';
import { type Sampler, type SearchSpace, type SuggestContext } from './types.js';

/**
 * Scrambled Sobol points mapped through each distribution's inverse CDF. Trial n is point n - 1,
 * so the first 2^k trials form a (t, k, d)-net: every axis is stratified into 2^k equal cells with
 * one trial each. Non-constant parameters take dimensions in name order (not spec order), so
 * reordering a spec does not change its points; the scrambling is seeded by the sweep's seed.
 */
export class SobolSampler implements Sampler {
  readonly name = 'sobol';
  private readonly constants: [string, Distribution & { type: 'constant' }][] = [];
  private readonly varying: [string, Distribution][] = [];
  private readonly sequence: SobolSequence | undefined;

  constructor(search: Pick<SearchSpace, 'parameters'>, seed: number) {
    for (const [name, dist] of Object.entries(search.parameters)) {
      if (dist.type === 'constant') this.constants.push([name, dist]);
      else this.varying.push([name, dist]);
    }
    this.varying.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.sequence =
      this.varying.length > 0 ? new SobolSequence(this.varying.length, { seed }) : undefined;
  }

  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    const point = this.sequence?.point(ctx.trialNumber - 1) ?? [];
    const params: ParamSet = {};
    for (const [name, dist] of this.constants) params[name] = dist.value;
    this.varying.forEach(([name, dist], d) => {
      params[name] = fitToParam(name, fromUnit(dist, point[d] ?? 0));
    });
    return params;
  }
}
