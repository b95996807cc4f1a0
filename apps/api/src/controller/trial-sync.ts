import {
  isTerminalTrialStatus,
  type TrialPayload,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { type Job, type Queue } from 'bullmq';

import { type SweepRecord } from '../sweep-record.js';
import { type StoredTrial, type SweepStore } from '../sweep-store.js';
import { applyFailure, applyResult } from './job-outcome.js';
import { type ControllerLogger } from './options.js';
import { type TrialEnqueuer } from './trial-enqueuer.js';

export interface TrialSyncOptions {
  readonly store: SweepStore;
  readonly queue: Queue<TrialPayload, TrialResult>;
  readonly enqueuer: TrialEnqueuer;
  readonly logger: ControllerLogger;
}

/** Folds the trials queue's view of a trial (its BullMQ job's state) into the trial's state. */
export class TrialSync {
  constructor(private readonly options: TrialSyncOptions) {}

  /**
   * Compares one unfinished trial with its job and stores what changed. Returns the new state, or
   * 'contended' when a worker wrote the state in between (the next pass picks it up).
   */
  async sync(record: SweepRecord, trial: StoredTrial): Promise<TrialState | 'contended'> {
    const { state } = trial;
    if (isTerminalTrialStatus(state.status)) return state;
    const job = await this.options.queue.getJob(state.trialId);
    const next =
      job === undefined ? await this.withoutJob(record, state) : await this.fromJob(state, job);
    if (next === undefined) return state;
    if (!(await this.options.store.compareAndSetTrial(record.id, next, trial.raw))) {
      return 'contended';
    }
    if (isTerminalTrialStatus(next.status)) {
      this.options.logger.info(
        { sweepId: record.id, trialId: next.trialId, status: next.status, reason: next.reason },
        'trial ended',
      );
    }
    return next;
  }

  /** A trial whose job is gone: re-added while the sweep runs, kept while paused, else cancelled. */
  private async withoutJob(
    record: SweepRecord,
    state: TrialState,
  ): Promise<TrialState | undefined> {
    if (record.status === 'running') {
      // Saved as queued but the job never made it (a crash in between), or it was removed
      // (pause): add it again. The job id is the trial id, so a trial never runs twice at once.
      await this.options.enqueuer.addJob(record, state);
      return undefined;
    }
    // Taken off the queue by a pause: stays queued until resumed.
    if (record.status === 'paused') return undefined;
    return { ...state, status: 'cancelled', reason: record.reason ?? 'sweep ended' };
  }

  /** The trial's state after its job's state, or undefined when nothing changed. */
  private async fromJob(state: TrialState, job: Job): Promise<TrialState | undefined> {
    const jobState = await job.getState();
    // Read the job again after its state: the copy above may predate its return value.
    const ended =
      jobState === 'completed' || jobState === 'failed'
        ? await this.options.queue.getJob(state.trialId)
        : undefined;
    if (jobState === 'completed' && ended !== undefined) return applyResult(state, ended);
    if (jobState === 'failed' && ended !== undefined) return applyFailure(state, ended);
    if (jobState === 'active' && state.status === 'queued') {
      return {
        ...state,
        status: 'running',
        attempts: job.attemptsMade,
        ...(job.processedOn !== undefined
          ? { startedAt: new Date(job.processedOn).toISOString() }
          : {}),
      };
    }
    return undefined;
  }
}
