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
import { NOT_STARTED_JOB_STATES, type ControllerLogger } from './options.js';
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
    // The job's state first, then the job: a job read after its state is at least that far along
    // (a completed job's copy has its return value).
    const jobState = await this.options.queue.getJobState(state.trialId);
    const job = await this.options.queue.getJob(state.trialId);
    const next =
      job === undefined ? await this.withoutJob(record, state) : fromJob(state, job, jobState);
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

  /**
   * A trial whose job is gone: re-added while the sweep runs (unless a recorded sweep stop
   * removed it: the stop is written before any job is removed), kept while paused, else cancelled.
   */
  private async withoutJob(
    record: SweepRecord,
    state: TrialState,
  ): Promise<TrialState | undefined> {
    const ended = (reason: string): TrialState => ({ ...state, status: 'cancelled', reason });
    if (record.status === 'running') {
      const stop = await this.options.store.getSweepStop(record.id);
      if (stop !== undefined) return ended(stop.reason);
      // Saved as queued but the job never made it (a crash in between), or it was removed
      // (pause): add it again. The job id is the trial id, so a trial never runs twice at once.
      await this.options.enqueuer.addJob(record, state);
      return undefined;
    }
    // Taken off the queue by a pause: stays queued until resumed.
    if (record.status === 'paused') return undefined;
    return ended(record.reason ?? 'sweep ended');
  }
}

/** The trial's state after its job's state, or undefined when nothing changed. */
function fromJob(state: TrialState, job: Job, jobState: string): TrialState | undefined {
  if (jobState === 'completed') return applyResult(state, job);
  if (jobState === 'failed') return applyFailure(state, job);
  if (jobState === 'active') return taken(state, job);
  if (NOT_STARTED_JOB_STATES.has(jobState)) return waitingAgain(state, job);
  return undefined;
}

/**
 * A trial whose job a worker holds: running (again), without the reason it waited for, with the
 * job's stalled count seen. Undefined when it already says so.
 */
export function taken(
  state: TrialState,
  job: Pick<Job, 'stalledCounter' | 'attemptsMade' | 'processedOn'>,
): TrialState | undefined {
  // No stall seen yet reads as 0 stalls: a trial its worker marked running needs no write.
  if (state.status === 'running' && (state.jobStalls ?? 0) === job.stalledCounter) return undefined;
  const { reason: _waitedFor, ...rest } = state;
  return {
    ...rest,
    status: 'running',
    ...(state.status === 'running' && state.reason !== undefined ? { reason: state.reason } : {}),
    // The attempt in progress, 1-based, as the worker writes it when it starts one (attemptsMade
    // counts only attempts that ended); writing attemptsMade here made a running trial's count
    // flip between n and n + 1 depending on who wrote last.
    attempts: job.attemptsMade + 1,
    jobStalls: job.stalledCounter,
    ...(state.startedAt === undefined && job.processedOn !== undefined
      ? { startedAt: new Date(job.processedOn).toISOString() }
      : {}),
  };
}

/**
 * A trial that had started and whose job waits for a worker again: `stalled` when its worker
 * stopped answering (BullMQ moved the job back), `requeued` when it was given back or is retried
 * after a failed attempt. Undefined when nothing changed (a trial that never started stays queued).
 */
export function waitingAgain(
  state: TrialState,
  job: Pick<Job, 'stalledCounter' | 'attemptsMade' | 'failedReason'>,
): TrialState | undefined {
  if (state.status === 'stalled' || state.status === 'requeued') return undefined;
  if (state.status === 'queued') {
    // The worker wrote `queued` (with its reason) when it gave the trial back.
    if (state.startedAt === undefined) return undefined;
    const reason = state.reason ?? 'given back by its worker; waiting for another worker';
    return { ...state, status: 'requeued', reason };
  }
  if (state.status !== 'running') return undefined;
  if (job.stalledCounter > (state.jobStalls ?? 0)) {
    const reason = `its worker stopped answering (job stalled ${job.stalledCounter} time(s)); waiting for another worker`;
    return { ...state, status: 'stalled', reason };
  }
  const reason = job.failedReason
    ? `attempt ${job.attemptsMade} failed (${job.failedReason}); waiting to be retried`
    : 'given back by its worker; waiting for another worker';
  return { ...state, status: 'requeued', reason };
}
