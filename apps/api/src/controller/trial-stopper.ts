import { isTerminalTrialStatus, type TrialState } from '@setrain/protocol';

import { type StoredTrial, type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';
import { type TrialEnqueuer } from './trial-enqueuer.js';

export interface TrialStopperOptions {
  readonly store: SweepStore;
  readonly enqueuer: TrialEnqueuer;
  readonly logger: ControllerLogger;
  readonly now: () => Date;
}

/** Ends a sweep's unfinished trials: queued ones here, running ones through their workers. */
export class TrialStopper {
  constructor(private readonly options: TrialStopperOptions) {}

  /**
   * Removes jobs that have not started (their trials become cancelled here) and publishes one
   * cancel message for the running ones (their workers end them).
   */
  async stopTrials(sweepId: string, trials: readonly StoredTrial[], reason: string): Promise<void> {
    const running: string[] = [];
    for (const trial of trials) {
      const { state } = trial;
      if (isTerminalTrialStatus(state.status)) continue;
      if (await this.options.enqueuer.removeIfNotStarted(state.trialId)) {
        const cancelled: TrialState = {
          ...state,
          status: 'cancelled',
          reason,
          finishedAt: this.options.now().toISOString(),
        };
        if (await this.options.store.compareAndSetTrial(sweepId, cancelled, trial.raw)) continue;
      }
      running.push(state.trialId);
    }
    if (running.length > 0) {
      const receivers = await this.options.store.publishControl({
        type: 'cancel',
        trialIds: running,
        reason,
      });
      this.options.logger.info({ sweepId, trialIds: running, receivers }, 'cancel published');
    }
  }
}
