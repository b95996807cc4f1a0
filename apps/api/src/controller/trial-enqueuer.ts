import {
  isTerminalTrialStatus,
  trialIdOf,
  type TrialPayload,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { type Queue } from 'bullmq';

import { type SweepRecord } from '../sweep-record.js';
import { type StoredTrial, type SweepStore } from '../sweep-store.js';
import {
  DEFAULT_JOB_ATTEMPTS,
  DEFAULT_JOB_BACKOFF_MS,
  DEFAULT_JOB_RETENTION_SECONDS,
  NOT_STARTED_JOB_STATES,
  type ControllerLogger,
} from './options.js';
import { historyOf, payloadOf, samplerOf } from './trial-payload.js';

export interface TrialEnqueuerOptions {
  readonly store: SweepStore;
  readonly queue: Queue<TrialPayload, TrialResult>;
  readonly logger: ControllerLogger;
  readonly now: () => Date;
  /** Told each record this enqueuer stored (with a new trial, under the sweep lock, fenced). */
  readonly recordStored: (stored: SweepRecord) => void;
  /** BullMQ attempts per trial. Default DEFAULT_JOB_ATTEMPTS. */
  readonly jobAttempts?: number;
  /** First exponential backoff delay between attempts. Default DEFAULT_JOB_BACKOFF_MS. */
  readonly jobBackoffMs?: number;
}

/** Creates trials (state, then job) and puts their jobs on or takes them off the trials queue. */
export class TrialEnqueuer {
  constructor(private readonly options: TrialEnqueuerOptions) {}

  /** Enqueues trials while fewer than `parallelism` are unfinished and the budget allows. */
  async enqueueMore(record: SweepRecord, trials: TrialState[]): Promise<SweepRecord> {
    let active = trials.filter((t) => !isTerminalTrialStatus(t.status)).length;
    // A crash between saving a trial and the record can leave trials beyond startedTrials.
    let started = Math.max(record.startedTrials, ...trials.map((t) => t.trialNumber));
    let planned = record.plannedTrials;
    const parallelism = record.spec.parallelism;
    if (active >= parallelism || started >= planned) {
      return started === record.startedTrials ? record : { ...record, startedTrials: started };
    }
    const sampler = samplerOf(record);
    const history = historyOf(record, trials);
    let next = record;
    while (active < parallelism && started < planned) {
      const trialNumber = started + 1;
      const params = sampler.suggest({ trialNumber, history });
      if (params === undefined) {
        // The space ran out before maxTrials (e.g. a grid smaller than asked for).
        planned = started;
        break;
      }
      const created = await this.createTrial(
        { ...next, startedTrials: trialNumber, plannedTrials: planned },
        params,
      );
      next = created.record;
      trials.push(created.state);
      history.push({ trialNumber, params, value: null, status: 'queued' });
      started = trialNumber;
      active += 1;
    }
    return { ...next, startedTrials: started, plannedTrials: planned };
  }

  /**
   * Saves trial number `record.startedTrials` as queued together with the record that counts it
   * (one atomic write), then its job. Returns the trial and the record as stored.
   */
  private async createTrial(
    record: SweepRecord,
    params: TrialState['params'],
  ): Promise<{ state: TrialState; record: SweepRecord }> {
    const trialNumber = record.startedTrials;
    const at = this.options.now().toISOString();
    const state: TrialState = {
      trialId: trialIdOf(record.id, trialNumber),
      trialNumber,
      status: 'queued',
      params,
      epochsCompleted: 0,
      objectiveValue: null,
      attempts: 0,
      queuedAt: at,
    };
    // Build the payload before saving anything: a spec/params mismatch must not leave a trial.
    const payload = payloadOf(record, state);
    // State before job: a worker may pick the job up at once and must find the trial.
    const saved = await this.options.store.createTrial({ ...record, updatedAt: at }, state);
    if (saved === 'exists') {
      throw new Error(`trial ${state.trialId} already exists; refusing to overwrite it`);
    }
    this.options.recordStored(saved);
    await this.addPayload(payload);
    this.options.logger.info(
      { sweepId: record.id, trialId: state.trialId, params },
      'trial queued',
    );
    return { state, record: saved };
  }

  /** Puts the trial's job (back) on the queue; a no-op while a job with its id exists. */
  async addJob(record: SweepRecord, state: TrialState): Promise<void> {
    await this.addPayload(payloadOf(record, state));
  }

  private async addPayload(payload: TrialPayload): Promise<void> {
    const retention = { age: DEFAULT_JOB_RETENTION_SECONDS };
    await this.options.queue.add('trial', payload, {
      jobId: payload.trialId,
      attempts: this.options.jobAttempts ?? DEFAULT_JOB_ATTEMPTS,
      backoff: {
        type: 'exponential',
        delay: this.options.jobBackoffMs ?? DEFAULT_JOB_BACKOFF_MS,
      },
      removeOnComplete: retention,
      removeOnFail: retention,
    });
  }

  /** Takes trials that have not started off the queue; their states stay `queued`. */
  async unqueueNotStarted(trials: readonly StoredTrial[]): Promise<void> {
    for (const { state } of trials) {
      if (state.status === 'queued') await this.removeIfNotStarted(state.trialId);
    }
  }

  /**
   * Removes the trial's job if it has not started. True when no job is left (removed, or there
   * was none); false when a worker holds it.
   */
  async removeIfNotStarted(trialId: string): Promise<boolean> {
    const job = await this.options.queue.getJob(trialId);
    if (job === undefined) return true;
    if (!NOT_STARTED_JOB_STATES.has(await job.getState())) return false;
    try {
      await job.remove();
      return true;
    } catch {
      // A worker took it between getState and remove: it runs to its end.
      return false;
    }
  }
}
