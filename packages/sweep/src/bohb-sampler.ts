import type { Goal, ParamSet, SearchRules } from '@setrain/protocol';

import { rulesOf } from './feasible.js';
import { deriveSeed, Prng } from './prng.js';
import { sampleFeasible } from './random-sampler.js';
import { TpeSampler } from './tpe-sampler.js';
import { checkTrialNumber } from './trial-number.js';
import {
  type BohbOptions,
  type Observation,
  type Sampler,
  type SearchSpace,
  type SuggestContext,
} from './types.js';

/** Fraction of trials sampled at random whatever the model says (BOHB's ρ; hpbandster's 1/3). */
export const DEFAULT_BOHB_RANDOM_FRACTION = 1 / 3;
/** Salt of the per-trial "random or model" draw. */
const BOHB_SALT = 0xb0b0;

/**
 * BOHB (Falkner, Klein & Hutter, ICML 2018): Hyperband's brackets decide how long trials train
 * (earlyStopping `hyperband`), and this sampler replaces Hyperband's random configurations with a
 * TPE model fitted on the largest budget that has enough observations:
 *
 * 1. A seeded draw per trial sends a `randomFraction` of trials (default 1/3) to random sampling,
 *    which keeps BOHB's convergence guarantee.
 * 2. Budgets are the epoch counts finished trials reached (their `epochs`: a rung where they were
 *    stopped, or the full budget). The model's budget b is the largest one that at least
 *    `minPointsInModel` (default: searched parameters + 1, times 2, as hpbandster needs that many
 *    good and bad points) finished trials reached; its observations are those trials with their
 *    objective (the best value up to where they stopped: trials that went past b are compared by
 *    a value at least as far along, which favours them as their promotion did).
 * 3. Queued and running trials join that model as constant liars, as in TPE.
 * 4. The model is the project's TPE (independent per parameter, not BOHB's multivariate KDE) with
 *    its options; with no budget holding enough points the trial is random.
 *
 * Stateless like every sampler: a pure function of (search, seed, n, earlier history).
 */
export class BohbSampler implements Sampler {
  readonly name = 'bohb';
  readonly randomFraction: number;
  readonly minPointsInModel: number;
  private readonly rules: SearchRules;
  private readonly tpe: TpeSampler;

  constructor(
    private readonly search: Pick<SearchSpace, 'parameters' | 'constraints' | 'tpe'>,
    private readonly seed: number,
    goal: Goal,
    options: BohbOptions = {},
  ) {
    this.rules = rulesOf(search);
    this.randomFraction = options.randomFraction ?? DEFAULT_BOHB_RANDOM_FRACTION;
    const dims = Object.values(search.parameters).filter((d) => d.type !== 'constant').length;
    this.minPointsInModel = options.minPointsInModel ?? 2 * (dims + 1);
    this.tpe = new TpeSampler(search, seed, goal, { ...search.tpe, startupTrials: 0 });
  }

  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    const n = ctx.trialNumber;
    const random = (): ParamSet => sampleFeasible(this.search, this.rules, this.seed, n);
    if (new Prng(deriveSeed(this.seed, n, BOHB_SALT)).next() < this.randomFraction) {
      return random();
    }
    const history = this.modelHistory(ctx.history.filter((o) => o.trialNumber < n));
    return history === undefined ? random() : this.tpe.suggest({ trialNumber: n, history });
  }

  /** The observations of the largest budget with enough points, plus in-flight trials. */
  modelHistory(earlier: readonly Observation[]): Observation[] | undefined {
    const finished = earlier.filter(
      (o) => o.value !== null && Number.isFinite(o.value) && (o.epochs ?? 0) > 0,
    );
    const budgets = [...new Set(finished.map((o) => o.epochs ?? 0))].sort((a, b) => b - a);
    const budget = budgets.find(
      (b) => finished.filter((o) => (o.epochs ?? 0) >= b).length >= this.minPointsInModel,
    );
    if (budget === undefined) return undefined;
    const inFlight = earlier.filter((o) => o.status === 'queued' || o.status === 'running');
    return [...finished.filter((o) => (o.epochs ?? 0) >= budget), ...inFlight];
  }
}
