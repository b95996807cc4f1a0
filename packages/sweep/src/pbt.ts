import type { Distribution, Goal, ParamSet, ParamValue } from '@setrain/protocol';

import { fitToParam, quantize, sampleDistribution } from './distributions.js';
import { SweepError } from './errors.js';
import { deriveSeed, hashString, Prng } from './prng.js';

export const DEFAULT_PBT_QUANTILE_FRACTION = 0.25;
export const DEFAULT_PBT_RESAMPLE_PROBABILITY = 0.25;
export const DEFAULT_PBT_PERTURBATION_FACTORS: readonly number[] = [0.8, 1.2];

/** Population-based training (Jaderberg et al. 2017), asynchronous as in Ray Tune's PBT. */
export interface PbtOptions {
  /** Trials trained side by side; the sweep starts exactly this many. */
  populationSize: number;
  /** A trial is compared with the population after every this many epochs. */
  perturbationInterval: number;
  /** Fraction of the ranked population in the bottom (exploits) and top (donors) groups. Default 0.25. */
  quantileFraction?: number | undefined;
  /** Chance that explore draws a parameter afresh from its distribution instead of perturbing it. Default 0.25. */
  resampleProbability?: number | undefined;
  /** A perturbed continuous value is multiplied by one of these, chosen at random. Default [0.8, 1.2]. */
  perturbationFactors?: readonly number[] | undefined;
}

/** What PBT knows about one member of the population. */
export interface PbtMember {
  trialNumber: number;
  /** Epochs it has completed: the epoch of its latest complete checkpoint. */
  epoch: number;
  /** The objective after that epoch; null while it has none (not ranked). */
  value: number | null;
  /** Its current hyperparameters. */
  params: ParamSet;
}

/** Keep training as is, or copy the donor's checkpoint and continue with `paramsAfter`. */
export type PbtDecision =
  | { action: 'continue'; reason: string }
  | {
      action: 'exploit';
      donor: number;
      donorEpoch: number;
      paramsBefore: ParamSet;
      paramsAfter: ParamSet;
      reason: string;
    };

/** The bottom and top groups of a ranked population (disjoint; empty below two ranked members). */
export interface PbtQuantiles {
  lower: PbtMember[];
  upper: PbtMember[];
}

/**
 * Decides, when a trial reaches a perturbation epoch, whether it exploits a better member (copies
 * its checkpoint) and how it explores (perturbs the copied hyperparameters). Stateless: the answer
 * is a pure function of (options, seed, the asking member, the population), so a restarted
 * controller repeats it.
 */
export class PbtScheduler {
  private readonly quantileFraction: number;
  private readonly resampleProbability: number;
  private readonly factors: readonly number[];

  constructor(
    private readonly parameters: Readonly<Record<string, Distribution>>,
    private readonly options: PbtOptions,
    private readonly seed: number,
    private readonly goal: Goal,
  ) {
    this.quantileFraction = options.quantileFraction ?? DEFAULT_PBT_QUANTILE_FRACTION;
    this.resampleProbability = options.resampleProbability ?? DEFAULT_PBT_RESAMPLE_PROBABILITY;
    this.factors = options.perturbationFactors ?? DEFAULT_PBT_PERTURBATION_FACTORS;
    checkOptions(options, this.quantileFraction, this.resampleProbability, this.factors);
  }

  /** The epoch a trial that has completed `epoch` epochs stops at next (at most `maxEpochs`). */
  nextStop(epoch: number, maxEpochs: number): number {
    const interval = this.options.perturbationInterval;
    return Math.min(maxEpochs, (Math.floor(epoch / interval) + 1) * interval);
  }

  /** The bottom and top `quantileFraction` of the members with a value (each at most half). */
  quantiles(population: readonly PbtMember[]): PbtQuantiles {
    const ranked = population
      .filter((m) => m.value !== null && Number.isFinite(m.value))
      .sort((a, b) => this.score(a) - this.score(b) || b.trialNumber - a.trialNumber);
    if (ranked.length <= 1) return { lower: [], upper: [] };
    let count = Math.ceil(ranked.length * this.quantileFraction);
    if (count > ranked.length / 2) count = Math.floor(ranked.length / 2);
    return { lower: ranked.slice(0, count), upper: ranked.slice(ranked.length - count) };
  }

  /**
   * The decision for `member` (one of `population`, which holds every member's latest result):
   * in the bottom group it exploits a member of the top group chosen at random and explores that
   * member's parameters; otherwise it continues. Only top members at least as far as `member`
   * (epoch) are donors: copying a checkpoint behind it would take it back in epochs, and two
   * members that each beat the other's later result could then take each other back forever (the
   * chaos suite's pbt-donor-worker-kill at seed 7 did: every epoch 2 scored worse than the other's
   * epoch 1, and the sweep never reached its budget).
   */
  decide(member: PbtMember, population: readonly PbtMember[]): PbtDecision {
    const others = population.filter((m) => m.trialNumber !== member.trialNumber);
    const quantiles = this.quantiles([member, ...others]);
    const { lower } = quantiles;
    const upper = quantiles.upper.filter((m) => m.epoch >= member.epoch);
    if (!lower.some((m) => m.trialNumber === member.trialNumber) || upper.length === 0) {
      const ranked = lower.length + upper.length > 0;
      return {
        action: 'continue',
        reason: ranked
          ? `pbt epoch ${member.epoch}: not in the bottom ${this.quantileFraction} of the population`
          : `pbt epoch ${member.epoch}: too few ranked members to compare`,
      };
    }
    const rng = new Prng(deriveSeed(this.seed, member.trialNumber, member.epoch, PBT_SALT));
    const donor = upper[rng.nextInt(upper.length)] as PbtMember;
    const paramsAfter = this.explore(donor.params, rng);
    return {
      action: 'exploit',
      donor: donor.trialNumber,
      donorEpoch: donor.epoch,
      paramsBefore: { ...member.params },
      paramsAfter,
      reason: `pbt epoch ${member.epoch}: ${String(member.value)} in the bottom ${this.quantileFraction}; exploits trial ${donor.trialNumber} (${String(donor.value)} after epoch ${donor.epoch})`,
    };
  }

  /** A perturbed copy of `params`: each searched parameter resampled or perturbed, within its bounds. */
  explore(params: ParamSet, rng: Prng): ParamSet {
    const next: ParamSet = { ...params };
    for (const [name, dist] of Object.entries(this.parameters)) {
      const current = params[name];
      if (dist.type === 'constant') continue;
      const value =
        current === undefined || rng.next() < this.resampleProbability
          ? sampleDistribution(dist, rng)
          : this.perturb(dist, current, rng);
      next[name] = fitToParam(name, value);
    }
    return next;
  }

  /** Ray Tune's rules: a list shifts to a neighbouring value; a number is multiplied and bounded. */
  private perturb(dist: Distribution, current: ParamValue, rng: Prng): ParamValue {
    if (dist.type === 'values') {
      const index = dist.values.indexOf(current);
      if (index < 0) return sampleDistribution(dist, rng);
      const shifted = index + (rng.next() < 0.5 ? -1 : 1);
      return dist.values[Math.max(0, Math.min(dist.values.length - 1, shifted))] as ParamValue;
    }
    if (typeof current !== 'number') return sampleDistribution(dist, rng);
    const x = current * (this.factors[rng.nextInt(this.factors.length)] as number);
    switch (dist.type) {
      case 'uniform':
      case 'log_uniform':
        return dist.q === undefined
          ? Math.max(dist.min, Math.min(dist.max, x))
          : quantize(x, dist.q, dist.min, dist.max);
      case 'int_uniform': {
        const steps = Math.round((x - dist.min) / dist.step);
        return Math.max(dist.min, Math.min(dist.max, dist.min + steps * dist.step));
      }
      case 'normal':
        return dist.q === undefined ? x : quantize(x, dist.q);
      case 'constant':
        return current;
    }
  }

  /** Higher is better. */
  private score(member: PbtMember): number {
    const value = member.value as number;
    return this.goal === 'maximize' ? value : -value;
  }
}

const PBT_SALT = hashString('pbt');

function checkOptions(
  options: PbtOptions,
  quantileFraction: number,
  resampleProbability: number,
  factors: readonly number[],
): void {
  const problems: string[] = [];
  if (!Number.isInteger(options.populationSize) || options.populationSize < 2) {
    problems.push(`populationSize must be an integer of at least 2; got ${options.populationSize}`);
  }
  if (!Number.isInteger(options.perturbationInterval) || options.perturbationInterval < 1) {
    problems.push(
      `perturbationInterval must be a positive integer; got ${options.perturbationInterval}`,
    );
  }
  if (!(quantileFraction > 0 && quantileFraction <= 0.5)) {
    problems.push(`quantileFraction must lie in (0, 0.5]; got ${quantileFraction}`);
  }
  if (!(resampleProbability >= 0 && resampleProbability <= 1)) {
    problems.push(`resampleProbability must lie in [0, 1]; got ${resampleProbability}`);
  }
  if (factors.length === 0 || factors.some((f) => !(f > 0 && Number.isFinite(f)))) {
    problems.push(`perturbationFactors must be positive numbers; got [${factors.join(', ')}]`);
  }
  if (problems.length > 0) throw new SweepError('INVALID_OPTIONS', problems.join('; '));
}
