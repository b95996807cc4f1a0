import { isBetter } from '@setrain/protocol';

import { SweepError } from './errors.js';
import { checkEpoch, formatValue, positiveInt, quantile } from './scheduler-math.js';
import {
  DEFAULT_ASHA_MIN_EPOCHS,
  DEFAULT_ASHA_REDUCTION_FACTOR,
  type AshaOptions,
  type DecideInput,
  type Decision,
  type Scheduler,
} from './scheduler-types.js';

/**
 * Asynchronous successive halving (Li et al. 2018) as a stopping rule. Rung k sits at epoch
 * minEpochs * reductionFactor^k, for every rung below maxEpochs. When a trial finishes a rung's
 * epoch, its value there is compared with the values other trials recorded at that rung so far:
 * it goes on only if it is in the top 1/reductionFactor of them, i.e. at least as good as their
 * (1 - 1/η) quantile (the 1/η quantile when minimising). The first trial at a rung always goes on,
 * and nobody waits for stragglers: a trial that later beats the cutoff simply continues, which is
 * ASHA's promotion rule seen from the trial's side (the same rule as Ray Tune's ASHA).
 */
export class AshaScheduler implements Scheduler {
  readonly name = 'asha';
  readonly minEpochs: number;
  readonly reductionFactor: number;
  readonly maxEpochs: number;
  /** Rung epochs, ascending. */
  readonly rungs: readonly number[];

  constructor(options: AshaOptions) {
    this.minEpochs = positiveInt('asha', 'minEpochs', options.minEpochs ?? DEFAULT_ASHA_MIN_EPOCHS);
    this.reductionFactor = positiveInt(
      'asha',
      'reductionFactor',
      options.reductionFactor ?? DEFAULT_ASHA_REDUCTION_FACTOR,
      2,
    );
    this.maxEpochs = positiveInt('asha', 'maxEpochs', options.maxEpochs);
    if (this.maxEpochs <= this.minEpochs) {
      throw new SweepError(
        'INVALID_OPTIONS',
        `asha: maxEpochs (${this.maxEpochs}) must exceed minEpochs (${this.minEpochs})`,
      );
    }
    const rungs: number[] = [];
    for (let r = this.minEpochs; r < this.maxEpochs; r *= this.reductionFactor) rungs.push(r);
    this.rungs = rungs;
  }

  decide({ trialNumber, epoch, history, goal }: DecideInput): Decision {
    checkEpoch(epoch);
    const rung = this.rungs.indexOf(epoch);
    if (rung < 0) return { action: 'continue' };
    const self = history.find((t) => t.trialNumber === trialNumber);
    const value = self?.epochValues[epoch - 1];
    if (value === undefined) return { action: 'continue' };
    const recorded: number[] = [];
    for (const t of history) {
      if (t.trialNumber === trialNumber) continue;
      const v = t.epochValues[epoch - 1];
      if (v !== undefined && Number.isFinite(v)) recorded.push(v);
    }
    if (recorded.length === 0) return { action: 'continue' };
    const keep = 1 / this.reductionFactor;
    const cutoff = quantile(recorded, goal === 'maximize' ? 1 - keep : keep);
    if (Number.isFinite(value) && !isBetter(goal, cutoff, value)) return { action: 'continue' };
    return {
      action: 'stop',
      reason: `early-stopped: asha rung ${rung} (epoch ${epoch}), ${formatValue(value)} worse than cutoff ${formatValue(cutoff)} (top 1/${this.reductionFactor} of ${recorded.length} other trials at this rung)`,
    };
  }
}
