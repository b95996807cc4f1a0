import type { Goal, TrialStatus } from '@setrain/protocol';

/** Every early-stopping rule `createScheduler` knows. */
export const SCHEDULER_TYPES = ['median', 'asha', 'hyperband'] as const;
export type SchedulerType = (typeof SCHEDULER_TYPES)[number];

export const DEFAULT_MEDIAN_MIN_EPOCHS = 1;
export const DEFAULT_MEDIAN_MIN_TRIALS = 3;
export const DEFAULT_ASHA_MIN_EPOCHS = 1;
export const DEFAULT_ASHA_REDUCTION_FACTOR = 3;

/** Median stopping rule (Golovin et al. 2017, Google Vizier). */
export interface MedianStoppingOptions {
  type: 'median';
  /** Grace period: no trial is stopped before it has run this many epochs. Default 1. */
  minEpochs?: number | undefined;
  /** Decide only once this many other trials have reached the epoch in question. Default 3. */
  minTrials?: number | undefined;
}

/** Asynchronous successive halving (Li et al. 2018, ASHA). */
export interface AshaOptions {
  type: 'asha';
  /** First rung: epoch minEpochs; rung k is at minEpochs * reductionFactor^k. Default 1. */
  minEpochs?: number | undefined;
  /** Keep the top 1/reductionFactor at each rung. Default 3. */
  reductionFactor?: number | undefined;
  /** A trial's full budget (the spec's training.epochs); rungs lie strictly below it. */
  maxEpochs: number;
}

/** Hyperband's brackets of successive halving, run asynchronously (hyperband-scheduler.ts). */
export interface HyperbandOptions {
  type: 'hyperband';
  /** First rung of the most aggressive bracket; bracket b starts at minEpochs * η^b. Default 1. */
  minEpochs?: number | undefined;
  /** η: keep the top 1/η at each rung. Default 3. */
  reductionFactor?: number | undefined;
  /** A trial's full budget. */
  maxEpochs: number;
  /** Brackets to use, most aggressive first. Default all: 1 + the rungs below maxEpochs. */
  brackets?: number | undefined;
}

/** An early-stopping section of a spec; the protocol's earlyStopping is assignable to it. */
export type EarlyStoppingOptions = MedianStoppingOptions | AshaOptions | HyperbandOptions;

/** What a scheduler knows about one trial. */
export interface TrialProgress {
  trialNumber: number;
  status: TrialStatus;
  /** Objective after each epoch so far: epochValues[i] is the value after epoch i + 1. */
  epochValues: readonly number[];
}

export interface DecideInput {
  /** The trial asking. Its own progress is the history entry with this number. */
  trialNumber: number;
  /** 1-based epoch it has just finished (and reported). */
  epoch: number;
  /** Every trial of the sweep, the asking one included, in any order. */
  history: readonly TrialProgress[];
  goal: Goal;
}

export interface Decision {
  action: 'continue' | 'stop';
  /** Why a trial is stopped, for trial.json and the API, e.g.
   * `early-stopped: asha rung 1 (epoch 3), 0.412 worse than cutoff 0.388 (top 1/3 of 7)`. */
  reason?: string;
}

/** Decides after each epoch whether a trial goes on. Stateless: a pure function of its input. */
export interface Scheduler {
  readonly name: SchedulerType | 'none';
  decide(input: DecideInput): Decision;
}
