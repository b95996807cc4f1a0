import { isBetter } from '@setrain/protocol';

import { bestOf, checkEpoch, formatValue, median, positiveInt } from './scheduler-math.js';
import {
  DEFAULT_MEDIAN_MIN_EPOCHS,
  DEFAULT_MEDIAN_MIN_TRIALS,
  type DecideInput,
  type Decision,
  type MedianStoppingOptions,
  type Scheduler,
} from './scheduler-types.js';

/** Statuses whose epoch values say nothing about the hyperparameters (crashes, cancels). */
const IGNORED_STATUSES = new Set(['failed', 'cancelled', 'diverged']);

/**
 * Median stopping rule (Golovin et al. 2017): at epoch e >= minEpochs, stop a trial whose best
 * objective so far is strictly worse than the median of the other trials' running averages
 * (mean of their first e values). The other trials are those that have reached epoch e, whatever
 * their status now (running, completed or early-stopped: their first e epochs were real
 * training), except failed, cancelled and diverged ones; nothing happens until minTrials of them
 * exist, so the rule never waits for stragglers and never decides on too little evidence.
 */
export class MedianStoppingScheduler implements Scheduler {
  readonly name = 'median';
  readonly minEpochs: number;
  readonly minTrials: number;

  constructor(options: MedianStoppingOptions) {
    this.minEpochs = positiveInt(
      'median',
      'minEpochs',
      options.minEpochs ?? DEFAULT_MEDIAN_MIN_EPOCHS,
    );
    this.minTrials = positiveInt(
      'median',
      'minTrials',
      options.minTrials ?? DEFAULT_MEDIAN_MIN_TRIALS,
    );
  }

  decide({ trialNumber, epoch, history, goal }: DecideInput): Decision {
    checkEpoch(epoch);
    if (epoch < this.minEpochs) return { action: 'continue' };
    const self = history.find((t) => t.trialNumber === trialNumber);
    const best = bestOf(goal, self?.epochValues.slice(0, epoch) ?? []);
    if (best === undefined) return { action: 'continue' };
    const averages: number[] = [];
    for (const t of history) {
      if (t.trialNumber === trialNumber || IGNORED_STATUSES.has(t.status)) continue;
      if (t.epochValues.length < epoch) continue;
      const first = t.epochValues.slice(0, epoch);
      if (!first.every(Number.isFinite)) continue;
      averages.push(first.reduce((a, b) => a + b, 0) / epoch);
    }
    if (averages.length < this.minTrials) return { action: 'continue' };
    const mid = median(averages);
    if (!isBetter(goal, mid, best)) return { action: 'continue' };
    return {
      action: 'stop',
      reason: `early-stopped: median rule at epoch ${epoch}, best ${formatValue(best)} worse than median ${formatValue(mid)} of ${averages.length} trials`,
    };
  }
}
