import type { Distribution } from '@setrain/protocol';

import { AshaScheduler } from './asha-scheduler.js';
import { intUniformCount } from './distributions.js';
import { SweepError } from './errors.js';
import { HyperbandScheduler } from './hyperband-scheduler.js';
import { MedianStoppingScheduler } from './median-stopping-scheduler.js';
import {
  SCHEDULER_TYPES,
  type Decision,
  type EarlyStoppingOptions,
  type Scheduler,
} from './scheduler-types.js';
import type { SearchSpace } from './types.js';

const NEVER_STOP: Scheduler = {
  name: 'none',
  decide: (): Decision => ({ action: 'continue' }),
};

/**
 * The early-stopping rule of a spec's `earlyStopping` section; without one, trials always run
 * their full budget. Like samplers, the controller/worker only see the `Scheduler` interface.
 */
export function createScheduler(options: EarlyStoppingOptions | undefined): Scheduler {
  if (options === undefined) return NEVER_STOP;
  const type: string = options.type;
  switch (options.type) {
    case 'median':
      return new MedianStoppingScheduler(options);
    case 'asha':
      return new AshaScheduler(options);
    case 'hyperband':
      return new HyperbandScheduler(options);
    default:
      throw new SweepError(
        'INVALID_OPTIONS',
        `unknown early-stopping type "${type}"; types are ${SCHEDULER_TYPES.join(', ')}`,
      );
  }
}

/** A spec's `earlyStopping` section: like EarlyStoppingOptions, but ASHA's and Hyperband's
 * maxEpochs may be left out. */
export type EarlyStoppingSpec =
  | Exclude<EarlyStoppingOptions, { type: 'asha' | 'hyperband' }>
  | (Omit<Extract<EarlyStoppingOptions, { type: 'asha' }>, 'maxEpochs'> & {
      maxEpochs?: number | undefined;
    })
  | (Omit<Extract<EarlyStoppingOptions, { type: 'hyperband' }>, 'maxEpochs'> & {
      maxEpochs?: number | undefined;
    });

/** The most epochs any trial of the spec can run: the largest `epochs` the search can pick. */
export function maxTrialEpochs(spec: {
  training: { epochs: number };
  search: Pick<SearchSpace, 'parameters'>;
}): number {
  const dist: Distribution | undefined = spec.search.parameters.epochs;
  if (!dist) return spec.training.epochs;
  switch (dist.type) {
    case 'constant':
      return typeof dist.value === 'number' ? dist.value : spec.training.epochs;
    case 'values':
      return Math.max(...dist.values.map((v) => (typeof v === 'number' ? v : 0)));
    case 'int_uniform':
      return dist.min + (intUniformCount(dist) - 1) * dist.step;
    case 'uniform':
    case 'log_uniform':
    case 'normal':
      // Not allowed for an int parameter by the protocol; keep the spec's own budget.
      return spec.training.epochs;
  }
}

/**
 * The scheduler of a whole spec: ASHA's and Hyperband's maxEpochs default to the most epochs a trial can run
 * (training.epochs, or the largest value when epochs is searched).
 */
export function createSchedulerForSpec(spec: {
  earlyStopping?: EarlyStoppingSpec | undefined;
  training: { epochs: number };
  search: Pick<SearchSpace, 'parameters'>;
}): Scheduler {
  const options = spec.earlyStopping;
  if (options?.type === 'asha' || options?.type === 'hyperband') {
    return createScheduler({ ...options, maxEpochs: options.maxEpochs ?? maxTrialEpochs(spec) });
  }
  return createScheduler(options);
}
