import { AshaScheduler } from './asha-scheduler.js';
import { SweepError } from './errors.js';
import { MedianStoppingScheduler } from './median-stopping-scheduler.js';
import {
  SCHEDULER_TYPES,
  type Decision,
  type EarlyStoppingOptions,
  type Scheduler,
} from './scheduler-types.js';

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
    default:
      throw new SweepError(
        'INVALID_OPTIONS',
        `unknown early-stopping type "${type}"; types are ${SCHEDULER_TYPES.join(', ')}`,
      );
  }
}
