import type { Goal, ParamSet } from '@setrain/protocol';

import { SweepError } from './errors.js';
import { nondominatedRanks } from './pareto.js';
import { TpeSampler } from './tpe-sampler.js';
import {
  type Observation,
  type Sampler,
  type SearchSpace,
  type SuggestContext,
  type TpeOptions,
} from './types.js';

/**
 * Multi-objective TPE (Ozaki et al., GECCO 2020; Optuna's MOTPE split): TPE whose good group is
 * chosen by Pareto dominance instead of one objective. Finished trials (every objective finite in
 * `values`) are ranked by non-dominated sorting; the trial's rank becomes the scalar TPE minimises,
 * so l(x) is fitted on the first fronts (the best ceil(gamma N) by rank; ties inside the boundary
 * front go to the earlier trial, where Optuna breaks them by hypervolume contribution). Everything
 * else (startup trials, constant liar, conditions and constraints) is TPE's.
 */
export class MotpeSampler implements Sampler {
  readonly name = 'tpe';
  private readonly tpe: TpeSampler;

  constructor(
    search: Pick<SearchSpace, 'parameters' | 'constraints'>,
    seed: number,
    private readonly goals: readonly Goal[],
    options: TpeOptions = {},
  ) {
    if (goals.length < 2) {
      throw new SweepError(
        'INVALID_OPTIONS',
        `motpe needs 2 or more objectives; got ${goals.length}`,
      );
    }
    this.tpe = new TpeSampler(search, seed, 'minimize', options);
  }

  suggest(ctx: SuggestContext): ParamSet {
    return this.tpe.suggest({ trialNumber: ctx.trialNumber, history: this.ranked(ctx.history) });
  }

  /** The history with each finished trial's value replaced by its non-domination rank. */
  ranked(history: readonly Observation[]): Observation[] {
    const finished = history.filter(
      (o) => o.values?.length === this.goals.length && o.values.every(Number.isFinite),
    );
    const ranks = nondominatedRanks(
      finished.map((o) => o.values ?? []),
      this.goals,
    );
    const rankOf = new Map(finished.map((o, i) => [o, ranks[i] ?? 0]));
    return history.map((o) => ({ ...o, value: rankOf.get(o) ?? null }));
  }
}
