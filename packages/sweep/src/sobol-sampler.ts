import type { Distribution, ParamSet, SearchRules } from '@setrain/protocol';

import { fitToParam, fromUnit } from './distributions.js';
import { infeasibleError, MAX_FEASIBILITY_DRAWS, rulesOf } from './feasible.js';
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
  private readonly rules: SearchRules;
  /** With rules: the sequence indices of the feasible points found so far, in order. */
  private readonly feasible: number[] = [];
  private scanned = 0;

  constructor(search: Pick<SearchSpace, 'parameters' | 'constraints'>, seed: number) {
    this.rules = rulesOf(search);
    for (const [name, dist] of Object.entries(search.parameters)) {
      if (dist.type === 'constant') this.constants.push([name, dist]);
      else this.varying.push([name, dist]);
    }
    this.varying.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.sequence =
      this.varying.length > 0 ? new SobolSequence(this.varying.length, { seed }) : undefined;
  }

  /**
   * Trial n is the n-th point of the sequence that meets the constraints (with inactive
   * parameters left out), so the trials keep the sequence's even spread over the feasible region.
   */
  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    if (!this.rules.active) return this.pointAt(ctx.trialNumber - 1);
    while (this.feasible.length < ctx.trialNumber) {
      const sinceLast = this.scanned - 1 - (this.feasible.at(-1) ?? -1);
      if (sinceLast >= MAX_FEASIBILITY_DRAWS) {
        throw infeasibleError(sinceLast, `sobol points ${this.scanned - sinceLast} onwards`);
      }
      if (this.rules.apply(this.pointAt(this.scanned)) !== undefined)
        this.feasible.push(this.scanned);
      this.scanned += 1;
    }
    const index = this.feasible[ctx.trialNumber - 1] ?? 0;
    return this.rules.apply(this.pointAt(index)) ?? this.pointAt(index);
  }

  private pointAt(index: number): ParamSet {
    const point = this.sequence?.point(index) ?? [];
    const params: ParamSet = {};
    for (const [name, dist] of this.constants) params[name] = dist.value;
    this.varying.forEach(([name, dist], d) => {
      params[name] = fitToParam(name, fromUnit(dist, point[d] ?? 0));
    });
    return params;
  }
}
