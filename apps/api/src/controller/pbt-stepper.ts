import { type S3Client } from '@aws-sdk/client-s3';
import {
  bestEpochOf,
  objectiveOf,
  runKeys,
  scheduleAfterExploit,
  type CheckpointRoot,
  type TrialPayload,
  type TrialPbt,
  type TrialResult,
  type TrialState,
} from '@setrain/protocol';
import { PbtScheduler, type PbtDecision, type PbtMember } from '@setrain/sweep';
import { type Queue } from 'bullmq';

import { type SweepRecord } from '../sweep-record.js';
import { type StoredTrial, type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';
import { copyCheckpoint } from './pbt-checkpoint.js';
import { PbtRetention } from './pbt-retention.js';
import { type TrialEnqueuer } from './trial-enqueuer.js';

export interface PbtStepperOptions {
  readonly store: SweepStore;
  readonly queue: Queue<TrialPayload, TrialResult>;
  readonly enqueuer: TrialEnqueuer;
  readonly s3: S3Client;
  readonly logger: ControllerLogger;
  readonly now: () => Date;
}

/** Statuses whose trials have left the population for good. */
const GONE = new Set<TrialState['status']>(['failed', 'diverged', 'cancelled', 'early-stopped']);

/** A PBT trial's lineage and schedule; a trial that never exploited has one segment. */
export function pbtOf(state: TrialState): TrialPbt {
  return (
    state.pbt ?? {
      lineage: [],
      schedule: [{ fromEpoch: 1, params: state.params, trialId: state.trialId }],
    }
  );
}

/** The PbtScheduler of a pbt sweep (undefined for other strategies). */
export function pbtSchedulerOf(record: SweepRecord): PbtScheduler | undefined {
  const { search, training, objective } = record.spec;
  if (search.strategy !== 'pbt' || search.pbt === undefined) return undefined;
  return new PbtScheduler(search.parameters, search.pbt, training.seed, objective.goal);
}

/**
 * PBT's step in the controller. A pbt trial's job trains up to its next perturbation epoch and
 * completes; the stepper then ranks it against the population (every member's latest result):
 * in the bottom quantile it copies a top member's latest checkpoint (and its best epoch's, which
 * best/ needs) into its own checkpoints/ with CopyObject and continues from it with explored
 * parameters, recording the exploit in its lineage; otherwise it continues from its own
 * checkpoint. Either way it is requeued for the next interval. A trial at the budget stays
 * completed. The stepper also applies the checkpoint retention (PbtRetention): after a trial's
 * state is saved at a boundary, before any new job of the trial is queued, and once when it has
 * trained its budget, failed, diverged or been cancelled (and its job is no longer held).
 *
 * An exploit's copy goes to a key fixed by the recipient's exploit number and the donor epoch
 * (`epoch-0004-pbt-2/`): when the API dies, or loses the compare-and-set, between the copy and the
 * save, the repeated step copies to the same key if it decides the same, and the retention's
 * listing deletes the unsaved copy if it decides otherwise.
 */
export class PbtStepper {
  private readonly retention: PbtRetention;

  constructor(private readonly options: PbtStepperOptions) {
    this.retention = new PbtRetention(options);
  }

  /**
   * Requeues the sweep's trials that finished an interval (`trials` as stored, their raw JSON the
   * compare-and-set guard). Returns the trials after, in the same order.
   */
  async step(
    record: SweepRecord,
    trials: readonly StoredTrial[],
  ): Promise<{ trials: StoredTrial[]; contended: boolean }> {
    const scheduler = pbtSchedulerOf(record);
    const budget = record.spec.training.epochs;
    const out = [...trials];
    if (scheduler === undefined) return { trials: out, contended: false };
    // Only the retention of finished trials runs once the sweep has ended.
    const stepping = record.status === 'running' || record.status === 'paused';
    let contended = false;
    for (const [index, stored] of trials.entries()) {
      const { state } = stored;
      const trained = state.status === 'completed' && state.epochsCompleted >= budget;
      if (trained || GONE.has(state.status)) {
        const pruned = await this.pruneFinished(record, stored);
        if (pruned === undefined) contended = true;
        else out[index] = pruned;
        continue;
      }
      if (state.status !== 'completed') continue;
      if (!stepping || !(await this.jobGone(state.trialId))) continue;
      const states = out.map((t) => t.state);
      const next = await this.continued(record, scheduler, state, states);
      if (!(await this.options.store.compareAndSetTrial(record.id, next, stored.raw))) {
        contended = true;
        continue;
      }
      out[index] = { state: next, raw: JSON.stringify(next) };
      // Before the next job is queued: its worker writes new checkpoint directories.
      await this.retention.deleteUnnamed(record, next);
      if (record.status === 'running') await this.options.enqueuer.addJob(record, next);
      this.options.logger.info(
        { sweepId: record.id, trialId: next.trialId, reason: next.reason },
        'pbt trial continues',
      );
    }
    return { trials: out, contended };
  }

  /**
   * A trial that trained its budget, or left the population (failed, diverged, cancelled), keeps
   * only its latest checkpoint (once: then it has one), as a normal trial does; a gone trial is
   * never a donor, so nothing copies from it. Returns the trial after (as given when nothing
   * changed), undefined when another writer changed it first or its job is still held (a cancelled
   * trial's worker writes its end before it lets the job go): the next pass prunes it.
   */
  private async pruneFinished(
    record: SweepRecord,
    stored: StoredTrial,
  ): Promise<StoredTrial | undefined> {
    const kept = this.retention.finished(record, stored.state);
    if (kept.length === (stored.state.checkpoints ?? []).length) return stored;
    const jobState = await this.options.queue.getJobState(stored.state.trialId);
    if (jobState !== 'unknown' && jobState !== 'completed' && jobState !== 'failed') {
      return undefined;
    }
    const next = { ...stored.state, checkpoints: kept };
    if (!(await this.options.store.compareAndSetTrial(record.id, next, stored.raw))) {
      return undefined;
    }
    await this.retention.deleteUnnamed(record, next);
    return { state: next, raw: JSON.stringify(next) };
  }

  /**
   * Removes the trial's completed job so the next interval can be queued under the same id. False
   * while a worker still holds it (its completion triggers another advance).
   */
  private async jobGone(trialId: string): Promise<boolean> {
    const job = await this.options.queue.getJob(trialId);
    if (job === undefined) return true;
    const state = await job.getState();
    if (state !== 'completed' && state !== 'failed') return false;
    await job.remove();
    return true;
  }

  /** The trial's state for its next interval, after PBT's decision. */
  private async continued(
    record: SweepRecord,
    scheduler: PbtScheduler,
    state: TrialState,
    trials: readonly TrialState[],
  ): Promise<TrialState> {
    const population = trials
      .filter((t) => !GONE.has(t.status) && t.epochsCompleted < record.spec.training.epochs)
      .map((t) => this.memberOf(record, t));
    const decision = scheduler.decide(this.memberOf(record, state), population);
    const { finishedAt: _f, trialJson: _j, ...rest } = state;
    const stop = (epoch: number) => scheduler.nextStop(epoch, record.spec.training.epochs);
    if (decision.action === 'continue') {
      return {
        ...rest,
        checkpoints: await this.retention.atBoundary(record, state),
        status: 'requeued',
        reason: `${decision.reason}; continues to epoch ${stop(state.epochsCompleted)}`,
        pbt: pbtOf(state),
      };
    }
    const donor = trials.find((t) => t.trialNumber === decision.donor);
    const exploited = donor && (await this.exploit(record, state, donor, decision));
    if (exploited === undefined) {
      return {
        ...rest,
        checkpoints: await this.retention.atBoundary(record, state),
        status: 'requeued',
        reason: `pbt epoch ${state.epochsCompleted}: trial ${decision.donor} has no complete checkpoint to copy; continues to epoch ${stop(state.epochsCompleted)}`,
      };
    }
    return {
      ...rest,
      ...exploited,
      status: 'requeued',
      reason: `${decision.reason}; continues from its epoch ${decision.donorEpoch} to epoch ${stop(decision.donorEpoch)}`,
    };
  }

  private memberOf(record: SweepRecord, t: TrialState): PbtMember {
    const value = t.latest === undefined ? undefined : objectiveOf(t.latest, record.spec.objective);
    return {
      trialNumber: t.trialNumber,
      epoch: t.epochsCompleted,
      value: value ?? null,
      params: t.params,
    };
  }

  /**
   * Copies the donor's latest checkpoint (and its best epoch's, if older) into the recipient's
   * checkpoints/ and returns the recipient's new parameters, checkpoints, progress and lineage;
   * undefined when the donor has no checkpoint of that epoch.
   */
  private async exploit(
    record: SweepRecord,
    state: TrialState,
    donor: TrialState,
    decision: Extract<PbtDecision, { action: 'exploit' }>,
  ): Promise<Partial<TrialState> | undefined> {
    const roots = donor.checkpoints ?? [];
    const latest = roots.find((r) => r.epoch === decision.donorEpoch);
    if (latest === undefined) return undefined;
    const pbt = pbtOf(state);
    const exploitNumber = pbt.lineage.length + 1;
    const keys = runKeys(record.id).trial(state.trialId);
    const bucket = record.artifactsBucket;
    const copy = await copyCheckpoint(
      this.options.s3,
      bucket,
      latest,
      keys.exploitedCheckpoint(latest.epoch, exploitNumber),
    );
    const checkpoints: CheckpointRoot[] = [copy.root];
    const bestEpoch = bestEpochOf(copy.epochs, record.spec.objective).epoch;
    const best = roots.find((r) => r.epoch === bestEpoch);
    if (best !== undefined && best.epoch !== latest.epoch) {
      const bestCopy = await copyCheckpoint(
        this.options.s3,
        bucket,
        best,
        keys.exploitedCheckpoint(best.epoch, exploitNumber),
      );
      checkpoints.unshift(bestCopy.root);
    }
    const lastMetrics = copy.epochs[copy.epochs.length - 1];
    return {
      params: decision.paramsAfter,
      epochsCompleted: decision.donorEpoch,
      ...(lastMetrics !== undefined ? { latest: lastMetrics } : {}),
      checkpoints,
      pbt: {
        lineage: [
          ...pbt.lineage,
          {
            atEpoch: state.epochsCompleted,
            donorTrialId: donor.trialId,
            donorEpoch: decision.donorEpoch,
            paramsBefore: decision.paramsBefore,
            paramsAfter: decision.paramsAfter,
            checkpoint: copy.root.prefix,
            stateSha256: copy.root.stateSha256,
            decidedAt: this.options.now().toISOString(),
          },
        ],
        schedule: scheduleAfterExploit(
          pbtOf(donor).schedule,
          decision.donorEpoch,
          decision.paramsAfter,
          state.trialId,
        ),
      },
    };
  }
}
