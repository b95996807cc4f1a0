import { AshaScheduler } from './asha-scheduler.js';
import { SweepError } from './errors.js';
import { deriveSeed, Prng } from './prng.js';
import { positiveInt } from './scheduler-math.js';
import {
  DEFAULT_ASHA_MIN_EPOCHS,
  DEFAULT_ASHA_REDUCTION_FACTOR,
  type DecideInput,
  type Decision,
  type HyperbandOptions,
  type Scheduler,
} from './scheduler-types.js';

/** Salt of the bracket draw, so it is independent of every sampler stream of the same trial. */
const BRACKET_SALT = 0x4b4e4400;

/**
 * Hyperband (Li et al., JMLR 2018) over epochs, run asynchronously as in Li et al.'s ASHA paper
 * (section 3.3) and Ray Tune's AsyncHyperBandScheduler: bracket b is successive halving with its
 * first rung at minEpochs * η^b, so bracket 0 stops most aggressively and the last bracket (first
 * rung at or past maxEpochs) runs every trial in full, i.e. plain random search. Each trial joins
 * one bracket, drawn from its trial number alone (stateless, so a restarted controller or another
 * worker computes the same bracket) with Hyperband's share of configurations per bracket:
 * weight (s + 1) / (h + 1) * η^h for a bracket that halves h times out of s + 1 brackets. Inside its
 * bracket a trial is judged by ASHA's rule against the other trials of the same bracket only.
 */
export class HyperbandScheduler implements Scheduler {
  readonly name = 'hyperband';
  readonly minEpochs: number;
  readonly reductionFactor: number;
  readonly maxEpochs: number;
  /** Bracket b's successive-halving rule; undefined for a bracket with no rung below maxEpochs. */
  readonly brackets: readonly (AshaScheduler | undefined)[];
  /** Cumulative bracket probabilities, for the draw. */
  private readonly cumulative: readonly number[];

  constructor(options: HyperbandOptions) {
    this.minEpochs = positiveInt(
      'hyperband',
      'minEpochs',
      options.minEpochs ?? DEFAULT_ASHA_MIN_EPOCHS,
    );
    this.reductionFactor = positiveInt(
      'hyperband',
      'reductionFactor',
      options.reductionFactor ?? DEFAULT_ASHA_REDUCTION_FACTOR,
      2,
    );
    this.maxEpochs = positiveInt('hyperband', 'maxEpochs', options.maxEpochs);
    if (this.maxEpochs <= this.minEpochs) {
      throw new SweepError(
        'INVALID_OPTIONS',
        `hyperband: maxEpochs (${this.maxEpochs}) must exceed minEpochs (${this.minEpochs})`,
      );
    }
    // s_max + 1 brackets in all: one per rung of the most aggressive bracket, plus the full one.
    let all = 1;
    for (let r = this.minEpochs; r < this.maxEpochs; r *= this.reductionFactor) all += 1;
    const count = options.brackets ?? all;
    if (!Number.isSafeInteger(count) || count < 1 || count > all) {
      throw new SweepError(
        'INVALID_OPTIONS',
        `hyperband: brackets must be an integer from 1 to ${all} (minEpochs ${this.minEpochs}, reductionFactor ${this.reductionFactor}, maxEpochs ${this.maxEpochs}); got ${count}`,
      );
    }
    const brackets: (AshaScheduler | undefined)[] = [];
    const weights: number[] = [];
    for (let b = 0; b < count; b++) {
      const first = this.minEpochs * this.reductionFactor ** b;
      brackets.push(
        first < this.maxEpochs
          ? new AshaScheduler({
              type: 'asha',
              minEpochs: first,
              reductionFactor: this.reductionFactor,
              maxEpochs: this.maxEpochs,
            })
          : undefined,
      );
      const halvings = all - 1 - b;
      weights.push((all / (halvings + 1)) * this.reductionFactor ** halvings);
    }
    this.brackets = brackets;
    const total = weights.reduce((a, w) => a + w, 0);
    let sum = 0;
    this.cumulative = weights.map((w) => (sum += w / total));
  }

  /** The bracket trial `trialNumber` belongs to: 0 (most aggressive) .. brackets - 1. */
  bracketOf(trialNumber: number): number {
    const u = new Prng(deriveSeed(BRACKET_SALT, trialNumber)).next();
    const index = this.cumulative.findIndex((c) => u < c);
    return index < 0 ? this.cumulative.length - 1 : index;
  }

  decide(input: DecideInput): Decision {
    const bracket = this.bracketOf(input.trialNumber);
    const rule = this.brackets[bracket];
    if (rule === undefined) return { action: 'continue' };
    const history = input.history.filter(
      (t) => t.trialNumber === input.trialNumber || this.bracketOf(t.trialNumber) === bracket,
    );
    const decision = rule.decide({ ...input, history });
    if (decision.action === 'continue') return decision;
    return {
      action: 'stop',
      reason: (decision.reason ?? '')
        .replace('early-stopped: asha ', `early-stopped: hyperband bracket ${bracket} `)
        .replace('other trials at this rung', `other trials of bracket ${bracket} at this rung`),
    };
  }
}
