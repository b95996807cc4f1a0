import {
  isTerminalTrialStatus,
  SWEEP_STOP_FIELD,
  type StopRequest,
  type TrialState,
} from '@setrain/protocol';

import { type StoredTrial, type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';
import { type TrialEnqueuer } from './trial-enqueuer.js';

export interface TrialStopperOptions {
  readonly store: SweepStore;
  readonly enqueuer: TrialEnqueuer;
  readonly logger: ControllerLogger;
  readonly now: () => Date;
}

/** What stopping a sweep's trials did. */
export interface StoppedTrials {
  /** Unfinished trials left to their workers (told through the stop record and pub/sub). */
  readonly stoppedTrials: string[];
  /** Trials that had not started: their jobs were removed and they ended cancelled here. */
  readonly removedTrials: string[];
}

/** Ends a sweep's unfinished trials: queued ones here, running ones through their workers. */
export class TrialStopper {
  constructor(private readonly options: TrialStopperOptions) {}

  /**
   * Records the whole-sweep stop request (durable: a worker that misses the message still finds
   * it before starting a trial, at batch boundaries and before checkpoints), removes jobs that have
   * not started (their trials become cancelled here), then publishes one cancel message for the
   * rest (the fast path). Needs no lock: every trial write is a compare-and-set.
   */
  async stopTrials(
    sweepId: string,
    trials: readonly StoredTrial[],
    stop: StopRequest,
  ): Promise<StoppedTrials> {
    await this.options.store.requestStops(sweepId, new Map([[SWEEP_STOP_FIELD, stop]]));
    const stoppedTrials: string[] = [];
    const removedTrials: string[] = [];
    for (const trial of trials) {
      if (isTerminalTrialStatus(trial.state.status)) continue;
      if (await this.removeQueued(sweepId, trial, stop.reason)) {
        removedTrials.push(trial.state.trialId);
      } else {
        stoppedTrials.push(trial.state.trialId);
      }
    }
    if (stoppedTrials.length > 0) {
      const receivers = await this.options.store.publishControl({
        type: 'cancel',
        trialIds: stoppedTrials,
        reason: stop.reason,
      });
      this.options.logger.info({ sweepId, trialIds: stoppedTrials, receivers }, 'cancel published');
    }
    return { stoppedTrials, removedTrials };
  }

  /** Removes the trial's job if it has not started and ends the trial cancelled; false if running. */
  private async removeQueued(
    sweepId: string,
    trial: StoredTrial,
    reason: string,
  ): Promise<boolean> {
    if (!(await this.options.enqueuer.removeIfNotStarted(trial.state.trialId))) return false;
    const cancelled: TrialState = {
      ...trial.state,
      status: 'cancelled',
      reason,
      finishedAt: this.options.now().toISOString(),
    };
    return this.options.store.compareAndSetTrial(sweepId, cancelled, trial.raw);
  }
}
