import {
  isBetter,
  type Distribution,
  type Goal,
  type ParamSet,
  type ParamValue,
  type SearchRules,
} from '@setrain/protocol';

import { fitToParam, intUniformCount, quantize, valueWeights } from './distributions.js';
import { SweepError } from './errors.js';
import { firstFeasible, RETRY_SALT, rulesOf } from './feasible.js';
import { ParzenEstimator } from './parzen-estimator.js';
import { deriveSeed, hashString, Prng } from './prng.js';
import { sampleFeasible } from './random-sampler.js';
import { checkTrialNumber } from './trial-number.js';
import {
  type Observation,
  type Sampler,
  type SearchSpace,
  type SuggestContext,
  type TpeOptions,
} from './types.js';

export const DEFAULT_TPE_STARTUP_TRIALS = 10;
export const DEFAULT_TPE_CANDIDATES = 24;
export const DEFAULT_TPE_GAMMA = 0.25;
export const DEFAULT_TPE_PRIOR_WEIGHT = 1;
/** Half-width, in standard deviations, of the range TPE models for a `normal` distribution. */
const NORMAL_RANGE_STDS = 4;
/** Salt that separates TPE's candidate streams from random sampling's. */
const TPE_SALT = 0x7be;

type NumericDistribution = Extract<
  Distribution,
  { type: 'uniform' | 'log_uniform' | 'int_uniform' | 'normal' }
>;

/** How a numeric distribution is modelled: bounds, prior, and the maps to and from model space. */
interface NumericModel {
  low: number;
  high: number;
  priorMu: number;
  priorSigma: number;
  /** Parameter value -> model space (log for log_uniform). */
  toModel(value: number): number;
  /** Model space -> a valid parameter value (exp, quantisation, integer step). */
  fromModel(x: number): number;
}

function numericModel(dist: NumericDistribution): NumericModel {
  switch (dist.type) {
    case 'uniform':
      return {
        low: dist.min,
        high: dist.max,
        priorMu: (dist.min + dist.max) / 2,
        priorSigma: dist.max - dist.min,
        toModel: (v) => v,
        fromModel: (x) => (dist.q === undefined ? x : quantize(x, dist.q, dist.min, dist.max)),
      };
    case 'log_uniform': {
      const low = Math.log(dist.min);
      const high = Math.log(dist.max);
      return {
        low,
        high,
        priorMu: (low + high) / 2,
        priorSigma: high - low,
        toModel: (v) => (v > 0 ? Math.log(v) : low),
        fromModel: (x) =>
          dist.q === undefined ? Math.exp(x) : quantize(Math.exp(x), dist.q, dist.min, dist.max),
      };
    }
    case 'int_uniform': {
      // Continuous over [min - step/2, max + step/2]; each integer step owns one equal cell.
      const top = dist.min + (intUniformCount(dist) - 1) * dist.step;
      const low = dist.min - dist.step / 2;
      const high = top + dist.step / 2;
      return {
        low,
        high,
        priorMu: (low + high) / 2,
        priorSigma: high - low,
        toModel: (v) => v,
        fromModel: (x) =>
          Math.min(
            Math.max(dist.min + Math.round((x - dist.min) / dist.step) * dist.step, dist.min),
            top,
          ),
      };
    }
    case 'normal':
      return {
        low: dist.mean - NORMAL_RANGE_STDS * dist.std,
        high: dist.mean + NORMAL_RANGE_STDS * dist.std,
        priorMu: dist.mean,
        priorSigma: dist.std,
        toModel: (v) => v,
        fromModel: (x) => (dist.q === undefined ? x : quantize(x, dist.q)),
      };
  }
}

/** Observations TPE learns from, best first, with the good/bad split point. */
interface Split {
  good: readonly Observation[];
  bad: readonly Observation[];
}

/**
 * Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio & Kégl, NeurIPS 2011), independent
 * per parameter as in hyperopt:
 *
 * 1. Trials 1..startupTrials (and any trial with fewer than 2 usable observations) are sampled
 *    exactly like the random strategy with the same seed.
 * 2. Usable observations are the earlier trials (numbers below n) with a finite value, plus
 *    diverged trials and, with `constantLiar`, queued/running ones, both at the worst finished
 *    value: in-flight trials thereby repel the next suggestions instead of attracting duplicates.
 *    Failed and cancelled trials are ignored.
 * 3. They are ranked by the goal and split: the best ceil(gamma * N) form l(x), the rest g(x).
 * 4. Per parameter, `candidates` draws from l(x) (its own seeded stream), keeping the one with the
 *    highest l(x) / g(x). Numeric parameters use truncated Gaussian mixtures in model space (log for
 *    log_uniform, continuous-then-rounded for int_uniform and q); `values` use counts smoothed by
 *    the prior's probabilities.
 * 5. Conditions and constraints: a parameter's estimators learn only from trials where it was
 *    active; a draw that breaks a constraint is redrawn from fresh streams, and after
 *    MAX_FEASIBILITY_DRAWS failures the trial falls back to a random feasible point.
 *
 * Pure in (search, seed, n, earlier history): a restarted controller gets the same suggestion.
 */
export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  readonly startupTrials: number;
  readonly candidates: number;
  readonly gamma: number;
  readonly priorWeight: number;
  readonly constantLiar: boolean;
  private readonly rules: SearchRules;

  constructor(
    private readonly search: Pick<SearchSpace, 'parameters' | 'constraints'>,
    private readonly seed: number,
    private readonly goal: Goal,
    options: TpeOptions = {},
  ) {
    this.startupTrials = options.startupTrials ?? DEFAULT_TPE_STARTUP_TRIALS;
    this.candidates = options.candidates ?? DEFAULT_TPE_CANDIDATES;
    this.gamma = options.gamma ?? DEFAULT_TPE_GAMMA;
    this.priorWeight = options.priorWeight ?? DEFAULT_TPE_PRIOR_WEIGHT;
    this.constantLiar = options.constantLiar ?? true;
    this.rules = rulesOf(search);
    const problems: string[] = [];
    if (!Number.isInteger(this.startupTrials) || this.startupTrials < 0) {
      problems.push(`startupTrials must be an integer >= 0 (got ${this.startupTrials})`);
    }
    if (!Number.isInteger(this.candidates) || this.candidates < 1) {
      problems.push(`candidates must be an integer >= 1 (got ${this.candidates})`);
    }
    if (!(this.gamma > 0 && this.gamma < 1)) {
      problems.push(`gamma must be in (0, 1) (got ${this.gamma})`);
    }
    if (!(this.priorWeight > 0) || !Number.isFinite(this.priorWeight)) {
      problems.push(`priorWeight must be a positive number (got ${this.priorWeight})`);
    }
    if (problems.length > 0) throw new SweepError('INVALID_OPTIONS', `tpe: ${problems.join('; ')}`);
  }

  suggest(ctx: SuggestContext): ParamSet {
    checkTrialNumber(ctx.trialNumber);
    const n = ctx.trialNumber;
    const split = n > this.startupTrials ? this.split(ctx.history, n) : undefined;
    if (!split) return sampleFeasible(this.search, this.rules, this.seed, n);
    try {
      return firstFeasible(
        this.rules,
        (attempt) => this.draw(split, n, attempt),
        `tpe draws for trial ${n}`,
      );
    } catch (error) {
      // l(x) may sit where the constraints rarely hold: fall back to a random feasible point.
      if (!(error instanceof SweepError) || error.code !== 'INFEASIBLE') throw error;
      return sampleFeasible(this.search, this.rules, this.seed, n);
    }
  }

  /** One TPE draw of every parameter; draw k > 0 uses its own streams. */
  private draw(split: Split, n: number, attempt: number): ParamSet {
    const params: ParamSet = {};
    for (const [name, dist] of Object.entries(this.search.parameters)) {
      const parts = [this.seed, n, hashString(name), TPE_SALT];
      if (attempt > 0) parts.push(RETRY_SALT + attempt);
      const rng = new Prng(deriveSeed(...parts));
      params[name] = fitToParam(name, this.suggestParam(name, dist, split, rng));
    }
    return params;
  }

  /** Ranks usable observations best first and splits them at the gamma quantile. */
  private split(history: readonly Observation[], n: number): Split | undefined {
    const earlier = history.filter((o) => o.trialNumber < n);
    const finished = earlier.filter((o) => o.value !== null && Number.isFinite(o.value));
    if (finished.length === 0) return undefined;
    let worst = finished[0]?.value ?? 0;
    for (const o of finished)
      if (o.value !== null && isBetter(this.goal, worst, o.value)) worst = o.value;
    const lied = earlier
      .filter(
        (o) =>
          !finished.includes(o) &&
          (o.status === 'diverged' ||
            (this.constantLiar && (o.status === 'running' || o.status === 'queued'))),
      )
      .map((o) => ({ ...o, value: worst }));
    const ranked = [...finished, ...lied].sort((a, b) => {
      const va = a.value ?? worst;
      const vb = b.value ?? worst;
      if (va !== vb) return isBetter(this.goal, va, vb) ? -1 : 1;
      return a.trialNumber - b.trialNumber;
    });
    if (ranked.length < 2) return undefined;
    const nGood = Math.min(Math.max(1, Math.ceil(this.gamma * ranked.length)), ranked.length - 1);
    return { good: ranked.slice(0, nGood), bad: ranked.slice(nGood) };
  }

  private suggestParam(name: string, dist: Distribution, split: Split, rng: Prng): ParamValue {
    switch (dist.type) {
      case 'constant':
        return dist.value;
      case 'values':
        return this.suggestCategorical(name, dist, split, rng);
      case 'uniform':
      case 'log_uniform':
      case 'int_uniform':
      case 'normal':
        return this.suggestNumeric(name, dist, split, rng);
    }
  }

  private suggestNumeric(name: string, dist: NumericDistribution, split: Split, rng: Prng): number {
    const model = numericModel(dist);
    const observed = (group: readonly Observation[]): number[] =>
      group.flatMap((o) => {
        const v = o.params[name];
        return typeof v === 'number' && Number.isFinite(v) ? [model.toModel(v)] : [];
      });
    const options = {
      low: model.low,
      high: model.high,
      priorMu: model.priorMu,
      priorSigma: model.priorSigma,
      priorWeight: this.priorWeight,
    };
    const l = new ParzenEstimator(observed(split.good), options);
    const g = new ParzenEstimator(observed(split.bad), options);
    let best = Number.NaN;
    let bestScore = -Infinity;
    for (let i = 0; i < this.candidates; i++) {
      const value = model.fromModel(l.sample(rng));
      const x = model.toModel(value);
      const score = l.logDensity(x) - g.logDensity(x);
      if (Number.isNaN(best) || score > bestScore) {
        best = value;
        bestScore = score;
      }
    }
    return best;
  }

  private suggestCategorical(
    name: string,
    dist: Extract<Distribution, { type: 'values' }>,
    split: Split,
    rng: Prng,
  ): ParamValue {
    const prior = valueWeights(dist);
    const weightsOf = (group: readonly Observation[]): number[] => {
      const w = prior.map((p) => this.priorWeight * p);
      for (const o of group) {
        const i = dist.values.indexOf(o.params[name] as ParamValue);
        if (i >= 0 && (prior[i] ?? 0) > 0) w[i] = (w[i] ?? 0) + 1;
      }
      const total = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / total);
    };
    const l = weightsOf(split.good);
    const g = weightsOf(split.bad);
    let best = -1;
    let bestScore = -Infinity;
    for (let c = 0; c < this.candidates; c++) {
      let pick = rng.next();
      let i = l.findLastIndex((w) => w > 0);
      for (let k = 0; k < l.length; k++) {
        pick -= l[k] ?? 0;
        if (pick < 0 && (l[k] ?? 0) > 0) {
          i = k;
          break;
        }
      }
      const score = Math.log(l[i] ?? 0) - Math.log(g[i] ?? 0);
      if (best < 0 || score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    return dist.values[best] as ParamValue;
  }
}
