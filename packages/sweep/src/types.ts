import type { Distribution, Goal, ParamSet, TrialStatus } from '@setrain/protocol';

import type { PbtOptions } from './pbt.js';

/** Every strategy `createSampler` knows. The protocol's STRATEGIES is a subset until it adds these. */
export const SAMPLER_STRATEGIES = ['grid', 'random', 'sobol', 'tpe', 'pbt', 'bohb'] as const;
export type SamplerStrategy = (typeof SAMPLER_STRATEGIES)[number];

/** Options of the tree-structured Parzen estimator (all optional; defaults in tpe-sampler.ts). */
export interface TpeOptions {
  /** Trials 1..startupTrials are sampled at random before TPE takes over. Default 10. */
  startupTrials?: number | undefined;
  /** Candidates drawn from l(x) per parameter; the one with the highest l(x)/g(x) wins. Default 24. */
  candidates?: number | undefined;
  /** Fraction of finished trials that form the "good" group. Default 0.25. */
  gamma?: number | undefined;
  /** Weight of the prior (the spec's distribution) in each Parzen estimator. Default 1. */
  priorWeight?: number | undefined;
  /** Treat running trials as if they had the worst finished value (constant liar). Default true. */
  constantLiar?: boolean | undefined;
}

/** Options of BOHB (bohb-sampler.ts); its model also reads the TPE options. */
export interface BohbOptions {
  /** Fraction of trials sampled at random regardless of the model. Default 1/3. */
  randomFraction?: number | undefined;
  /** Finished trials a budget needs before the model uses it. Default 2 * (searched + 1). */
  minPointsInModel?: number | undefined;
}

/**
 * The `search` section of a sweep spec as the samplers read it: the protocol's SweepSpec['search']
 * is assignable to it.
 */
export interface SearchSpace {
  strategy: SamplerStrategy;
  /** Parameter name -> distribution, in spec order (grid order depends on it). */
  parameters: Record<string, Distribution>;
  tpe?: TpeOptions | undefined;
  /** BOHB's own options (strategy bohb; its TPE model takes `tpe`). */
  bohb?: BohbOptions | undefined;
  /** Population-based training (strategy pbt); see pbt.ts. */
  pbt?: PbtOptions | undefined;
  /** Conditions over the parameters every suggested point meets (protocol param-expression). */
  constraints?: readonly string[] | undefined;
}

/** What a sampler knows about one earlier trial. */
export interface Observation {
  /** 1-based trial number. */
  trialNumber: number;
  params: ParamSet;
  /** The trial's objective; null while it has none (queued, running) or when it failed. */
  value: number | null;
  status: TrialStatus;
  /** Epochs the trial trained (where early stopping ended it, or its full budget); BOHB's budget. */
  epochs?: number | undefined;
  /** Multi-objective: one value per objective, in the spec's order (MotpeSampler). */
  values?: readonly number[] | undefined;
}

export interface SuggestContext {
  /** 1-based number of the trial to suggest parameters for. */
  trialNumber: number;
  /** Earlier trials, in any order; samplers read only those numbered below `trialNumber`. */
  history: readonly Observation[];
}

/**
 * Suggests the parameters of trial n. Implementations are stateless: the answer is a pure function
 * of (search space, seed, trial number, history), so a restarted controller reproduces it.
 */
export interface Sampler {
  readonly name: SamplerStrategy;
  /** Parameters for the trial, or undefined when the space is exhausted (grid only). */
  suggest(ctx: SuggestContext): ParamSet | undefined;
}

export interface SamplerOptions {
  /** The sweep's seed; every random choice derives from it. */
  seed: number;
  /** Whether a lower (minimize) or higher (maximize) objective is better. */
  goal: Goal;
  /**
   * Multi-objective sweeps: the goal of each objective, in spec order. With two or more, strategy
   * tpe runs MotpeSampler (as Optuna's TPESampler does for several directions) on each
   * observation's `values`; grid, random and sobol ignore objectives.
   */
  goals?: readonly Goal[] | undefined;
}
