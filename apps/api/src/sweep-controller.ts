import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { type S3Client } from '@aws-sdk/client-s3';
import {
  isBetter,
  isFinishedSweepStatus,
  isTerminalTrialStatus,
  newSweepId,
  parseTrialId,
  resolveTrialConfig,
  runKeys,
  trialIdOf,
  trialPayloadSchema,
  trialResultSchema,
  type BestTrialSummary,
  type SweepKind,
  type SweepSpec,
  type TrialPayload,
  type TrialResult,
  type TrialState,
  type TrialStatus,
  type UpdateSweepBody,
} from '@setrain/protocol';
import { putObject } from '@setrain/storage';
import {
  createSampler,
  DEFAULT_TPE_STARTUP_TRIALS,
  maxTrialEpochs,
  plannedTrialCount,
  type Observation,
  type Sampler,
} from '@setrain/sweep';
import { type Job, type Queue, type QueueEvents } from 'bullmq';

import { ApiError } from './errors.js';
import { countTrials, type SweepRecord } from './sweep-record.js';
import { type StoredTrial, type SweepStore } from './sweep-store.js';
import { collectWarmStart } from './warm-start.js';

export const DEFAULT_LOCK_TTL_MS = 30_000;
export const DEFAULT_JOB_ATTEMPTS = 3;
export const DEFAULT_JOB_BACKOFF_MS = 10_000;
/** Finished jobs stay in Redis this long, so a controller that was down still sees their results. */
export const DEFAULT_JOB_RETENTION_SECONDS = 30 * 24 * 3600;
/** How long an advance waits for another replica's lock before leaving it to the reconcile loop. */
export const DEFAULT_LOCK_WAIT_MS = 2000;
const LOCK_RETRY_MS = 50;
/** Job states in which a trial has not started and can simply be removed on cancel. */
const NOT_STARTED_JOB_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);
/** Extra passes of one advance when a worker wrote a trial state under our feet. */
const MAX_CONTENDED_PASSES = 3;
/** How long a user action (cancel, pause, resume, PATCH) waits for the sweep lock. */
const USER_LOCK_WAIT_MS = DEFAULT_LOCK_WAIT_MS * 5;
/** Trials that count as "did not improve" for budget.noImprovementTrials. */
const NO_IMPROVEMENT_STATUSES = new Set<TrialStatus>(['completed', 'early-stopped', 'diverged']);

/** The subset of pino's logger the controller uses (Fastify's `app.log` fits). */
export interface ControllerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SweepControllerOptions {
  readonly store: SweepStore;
  /** Producer of the trials queue (TRIALS_QUEUE under the same prefix as the store). */
  readonly queue: Queue<TrialPayload, TrialResult>;
  /** Completed/failed events of the trials queue; without it only the reconcile loop advances. */
  readonly queueEvents?: QueueEvents;
  readonly s3: S3Client;
  /** Bucket of runs/<sweepId>/... (sweep.json; workers write trials there). */
  readonly artifactsBucket: string;
  readonly logger: ControllerLogger;
  /** Period of the loop that advances every active sweep (and runs once at start). Default 5000. */
  readonly reconcileIntervalMs?: number;
  /** Lifetime of a sweep lock; an advance must finish well within it. Default 30 s. */
  readonly lockTtlMs?: number;
  /** BullMQ attempts per trial (retries infrastructure failures; workers fail bad trials for good). */
  readonly jobAttempts?: number;
  /** First exponential backoff delay between attempts. Default 10 s. */
  readonly jobBackoffMs?: number;
  readonly now?: () => Date;
}

export interface CreateSweepInput {
  readonly spec: SweepSpec;
  readonly kind: SweepKind;
}

/**
 * Drives sweeps: samples parameters, enqueues trials up to the sweep's parallelism, folds finished
 * trials back in (best trial, counts), and ends the sweep. All state lives in Redis; any number of
 * API replicas can run a controller: a per-sweep lock serialises advances, and deterministic job
 * ids (`<sweepId>.<n>`) make a repeated enqueue a no-op.
 */
export class SweepController {
  private readonly store: SweepStore;
  private readonly queue: Queue<TrialPayload, TrialResult>;
  private readonly options: SweepControllerOptions;
  private readonly now: () => Date;
  private readonly inFlight = new Map<string, { again: boolean; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private reconciling: Promise<void> | undefined;

  constructor(options: SweepControllerOptions) {
    this.options = options;
    this.store = options.store;
    this.queue = options.queue;
    this.now = options.now ?? (() => new Date());
  }

  /** Subscribes to queue events and starts the reconcile loop (first pass right away). */
  start(): void {
    const events = this.options.queueEvents;
    if (events !== undefined) {
      const onEnd = ({ jobId }: { jobId: string }): void => {
        const parsed = parseTrialId(jobId);
        if (parsed !== undefined) this.advanceInBackground(parsed.sweepId);
      };
      events.on('completed', onEnd);
      events.on('failed', onEnd);
      events.on('active', onEnd);
    }
    const interval = this.options.reconcileIntervalMs ?? 5000;
    this.timer = setInterval(() => void this.reconcileAll(), interval);
    this.timer.unref();
    void this.reconcileAll();
  }

  /** Stops the loop and waits for advances in progress. Does not close the queue or Redis. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.reconciling;
    await Promise.allSettled([...this.inFlight.values()].map((e) => e.done));
  }

  /** Advances every active sweep once (what a restarted API does first). */
  reconcileAll(): Promise<void> {
    this.reconciling ??= (async () => {
      try {
        for (const sweepId of await this.store.activeSweepIds()) {
          if (this.closed) break;
          await this.advance(sweepId).catch((error: unknown) =>
            this.options.logger.error({ err: error, sweepId }, 'advancing sweep failed'),
          );
        }
      } catch (error) {
        this.options.logger.warn({ err: error }, 'reconcile pass failed');
      } finally {
        this.reconciling = undefined;
      }
    })();
    return this.reconciling;
  }

  /** Stores a new sweep, writes its sweep.json and enqueues its first trials. */
  async createSweep(input: CreateSweepInput): Promise<SweepRecord> {
    const { spec, kind } = input;
    const warmStart = await collectWarmStart(this.store, spec);
    const at = this.now().toISOString();
    const record: SweepRecord = {
      id: newSweepId((n) => randomBytes(n), kind),
      kind,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      spec,
      status: 'running',
      createdAt: at,
      updatedAt: at,
      plannedTrials: plannedTrialCount(spec),
      startedTrials: 0,
      artifactsBucket: this.options.artifactsBucket,
      sampler: spec.search.strategy,
      best: null,
      finalSweepJsonWritten: false,
      warmStart,
    };
    // Fails here (not in the first advance) when the sampler rejects the search section.
    this.samplerOf(record);
    // S3 first: if it is down the sweep is never half-created.
    await this.writeSweepJson(record, []);
    await this.store.createSweep(record);
    this.options.logger.info(
      { sweepId: record.id, plannedTrials: record.plannedTrials },
      'sweep created',
    );
    await this.advance(record.id);
    return (await this.store.getSweep(record.id)) ?? record;
  }

  /**
   * Cancels a running sweep: removes trials that have not started, tells workers to stop the
   * running ones (they end as cancelled), and marks the sweep cancelled. Returns the record, or
   * undefined when there is no such sweep.
   */
  async cancel(sweepId: string, reason: string): Promise<SweepRecord | undefined> {
    await this.withLock(sweepId, USER_LOCK_WAIT_MS, async () => {
      const record = await this.store.getSweep(sweepId);
      if (record === undefined || isFinishedSweepStatus(record.status)) return;
      const trials = await this.store.getStoredTrials(sweepId);
      const stamp = this.now().toISOString();
      await this.saveRecord({
        ...record,
        status: 'cancelled',
        reason,
        finishedAt: stamp,
        updatedAt: stamp,
      });
      await this.stopTrials(sweepId, trials, reason);
    });
    await this.advance(sweepId);
    return this.store.getSweep(sweepId);
  }

  /**
   * Pauses a running sweep: trials that have not started leave the queue (they stay `queued` and
   * go back on resume), running ones finish, nothing new is enqueued. Pausing a paused sweep is a
   * no-op; a finished one answers SWEEP_FINISHED.
   */
  async pause(sweepId: string): Promise<SweepRecord> {
    const paused = await this.userAction(sweepId, async (record) => {
      if (record.status === 'paused') return record;
      const next: SweepRecord = {
        ...record,
        status: 'paused',
        updatedAt: this.now().toISOString(),
      };
      await this.saveRecord(next);
      await this.unqueueNotStarted(await this.store.getStoredTrials(sweepId));
      this.options.logger.info({ sweepId }, 'sweep paused');
      return next;
    });
    await this.advance(sweepId);
    return (await this.store.getSweep(sweepId)) ?? paused;
  }

  /** Resumes a paused sweep: its queued trials go back on the queue and new ones follow. */
  async resume(sweepId: string): Promise<SweepRecord> {
    const resumed = await this.userAction(sweepId, async (record) => {
      if (record.status === 'running') return record;
      const next: SweepRecord = {
        ...record,
        status: 'running',
        updatedAt: this.now().toISOString(),
      };
      await this.saveRecord(next);
      this.options.logger.info({ sweepId }, 'sweep resumed');
      return next;
    });
    await this.advance(sweepId);
    return (await this.store.getSweep(sweepId)) ?? resumed;
  }

  /**
   * Changes a running or paused sweep's parallelism and/or maxTrials. maxTrials below the trials
   * already started answers REQUEST_INVALID; a grid's planned count stays capped at its size.
   */
  async update(sweepId: string, body: UpdateSweepBody): Promise<SweepRecord> {
    const updated = await this.userAction(sweepId, async (record) => {
      if (body.maxTrials !== undefined && body.maxTrials < record.startedTrials) {
        const message = `must be at least ${record.startedTrials}, the trials already started`;
        throw new ApiError('REQUEST_INVALID', { detail: `maxTrials: ${message}` }, [
          { path: 'maxTrials', message },
        ]);
      }
      const spec: SweepSpec = {
        ...record.spec,
        ...(body.parallelism !== undefined ? { parallelism: body.parallelism } : {}),
        ...(body.maxTrials !== undefined ? { maxTrials: body.maxTrials } : {}),
      };
      const next: SweepRecord = {
        ...record,
        spec,
        plannedTrials: Math.max(record.startedTrials, plannedTrialCount(spec)),
        updatedAt: this.now().toISOString(),
      };
      await this.saveRecord(next);
      this.options.logger.info(
        { sweepId, parallelism: spec.parallelism, plannedTrials: next.plannedTrials },
        'sweep updated',
      );
      return next;
    });
    await this.advance(sweepId);
    return (await this.store.getSweep(sweepId)) ?? updated;
  }

  /** Runs a user action on an unfinished sweep under its lock (404 / 409 otherwise). */
  private async userAction(
    sweepId: string,
    fn: (record: SweepRecord) => Promise<SweepRecord>,
  ): Promise<SweepRecord> {
    const result = await this.withLock(sweepId, USER_LOCK_WAIT_MS, async () => {
      const record = await this.store.getSweep(sweepId);
      if (record === undefined) throw new ApiError('SWEEP_NOT_FOUND', { sweepId });
      if (isFinishedSweepStatus(record.status)) {
        throw new ApiError('SWEEP_FINISHED', { sweepId, status: record.status });
      }
      return fn(record);
    });
    if (result === undefined) throw new Error(`sweep ${sweepId} stayed locked; retry`);
    return result;
  }

  /**
   * Brings a sweep up to date with its jobs, enqueues what its budget allows, and ends it when
   * done. Concurrent calls for one sweep coalesce into one run plus at most one re-run.
   */
  advance(sweepId: string): Promise<void> {
    const existing = this.inFlight.get(sweepId);
    if (existing !== undefined) {
      existing.again = true;
      return existing.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        let passes = 0;
        do {
          entry.again = false;
          const contended = await this.withLock(sweepId, DEFAULT_LOCK_WAIT_MS, () =>
            this.advanceLocked(sweepId),
          );
          if (contended === true && passes++ < MAX_CONTENDED_PASSES) entry.again = true;
        } while (entry.again && !this.closed);
      } finally {
        this.inFlight.delete(sweepId);
      }
    })();
    this.inFlight.set(sweepId, entry);
    return entry.done;
  }

  private advanceInBackground(sweepId: string): void {
    if (this.closed) return;
    this.advance(sweepId).catch((error: unknown) =>
      this.options.logger.error({ err: error, sweepId }, 'advancing sweep failed'),
    );
  }

  /** Runs `fn` holding the sweep's Redis lock; undefined when the lock stayed busy for `waitMs`. */
  private async withLock<T>(
    sweepId: string,
    waitMs: number,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    const ttl = this.options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    const deadline = Date.now() + waitMs;
    let token = await this.store.acquireLock(sweepId, ttl);
    while (token === undefined && Date.now() < deadline) {
      await sleep(LOCK_RETRY_MS);
      token = await this.store.acquireLock(sweepId, ttl);
    }
    if (token === undefined) {
      // Another replica is advancing this sweep; the reconcile loop catches anything it missed.
      this.options.logger.debug({ sweepId }, 'sweep lock busy');
      return undefined;
    }
    try {
      return await fn();
    } finally {
      await this.store.releaseLock(sweepId, token);
    }
  }

  /** One advance under the lock. Returns true when a trial state changed under our feet. */
  private async advanceLocked(sweepId: string): Promise<boolean> {
    const loaded = await this.store.getSweep(sweepId);
    if (loaded === undefined) {
      await this.store.markInactive(sweepId);
      return false;
    }
    let record = loaded;
    const stored = await this.store.getStoredTrials(sweepId);
    let contended = false;

    // 1. Fold the queue's view of every unfinished trial into its state.
    const trials: TrialState[] = [];
    for (const trial of stored) {
      const synced = await this.syncTrial(record, trial);
      if (synced === 'contended') {
        contended = true;
        trials.push(trial.state);
      } else {
        trials.push(synced);
      }
    }

    // 2. The best trial so far.
    const best = bestOf(record, trials);
    if (JSON.stringify(best) !== JSON.stringify(record.best)) {
      record = { ...record, best };
    }

    // 3. Budget: fail, stop, enqueue more, or complete.
    if (!isFinishedSweepStatus(record.status)) {
      const counts = countTrials(trials);
      const failures = counts.failed + counts.diverged;
      if (failures > record.spec.maxFailedTrials) {
        const reason = `${failures} trial(s) failed, more than maxFailedTrials (${record.spec.maxFailedTrials})`;
        record = this.finished(record, 'failed', reason);
        await this.saveRecord(record);
        await this.stopTrials(
          sweepId,
          await this.store.getStoredTrials(sweepId),
          `sweep failed: ${reason}`,
        );
        contended = true; // re-read the stopped trials on the next pass
      } else {
        const unfinished = trials.some((t) => !isTerminalTrialStatus(t.status));
        const stop =
          unfinished || record.startedTrials < record.plannedTrials
            ? this.stopCriterion(record, trials)
            : undefined;
        if (stop !== undefined) {
          record = this.finished(record, 'completed', stop);
          await this.saveRecord(record);
          await this.stopTrials(
            sweepId,
            await this.store.getStoredTrials(sweepId),
            `sweep stopped: ${stop}`,
          );
          this.options.logger.info({ sweepId, reason: stop }, 'sweep stopped');
          contended = true;
        } else {
          if (record.status === 'running') record = await this.enqueueMore(record, trials);
          const active = trials.filter((t) => !isTerminalTrialStatus(t.status)).length;
          if (active === 0 && record.startedTrials >= record.plannedTrials) {
            record = this.finished(record, 'completed');
          }
        }
      }
    }
    if (JSON.stringify(record) !== JSON.stringify(loaded)) {
      await this.saveRecord({ ...record, updatedAt: this.now().toISOString() });
    }

    // 4. Ended and settled: write the final sweep.json once, then stop watching the sweep.
    const unsettled = trials.some((t) => !isTerminalTrialStatus(t.status));
    if (isFinishedSweepStatus(record.status) && !unsettled && !contended) {
      if (!record.finalSweepJsonWritten) {
        try {
          await this.writeSweepJson(record, trials);
          record = { ...record, finalSweepJsonWritten: true };
          await this.saveRecord(record);
        } catch (error) {
          this.options.logger.warn({ err: error, sweepId }, 'writing the final sweep.json failed');
          return false; // stays active: the reconcile loop retries
        }
      }
      await this.store.markInactive(sweepId);
      this.options.logger.info(
        { sweepId, status: record.status, best: record.best?.trialId },
        'sweep ended',
      );
    }
    return contended;
  }

  /**
   * The budget criterion (spec.budget) that ends the sweep now, as its reason, or undefined.
   * Checked only while trials are running or still to come.
   */
  private stopCriterion(record: SweepRecord, trials: readonly TrialState[]): string | undefined {
    const budget = record.spec.budget;
    if (budget === undefined) return undefined;
    const { metric, goal } = record.spec.objective;
    const best = record.best;
    const target = budget.targetObjective;
    if (
      target !== undefined &&
      best !== null &&
      (best.objectiveValue === target || isBetter(goal, best.objectiveValue, target))
    ) {
      return `target objective reached: trial ${best.trialId} has ${metric} ${best.objectiveValue} (target ${goal === 'minimize' ? '<=' : '>='} ${target})`;
    }
    const patience = budget.noImprovementTrials;
    if (patience !== undefined && best !== null) {
      const bestNumber = parseTrialId(best.trialId)?.trialNumber ?? 0;
      const since = trials.filter(
        (t) => t.trialNumber > bestNumber && NO_IMPROVEMENT_STATUSES.has(t.status),
      ).length;
      if (since >= patience) {
        return `no improvement in ${since} trials since trial ${best.trialId} (${metric} ${best.objectiveValue}; noImprovementTrials ${patience})`;
      }
    }
    const wallClock = budget.maxWallClockSeconds;
    if (wallClock !== undefined) {
      const elapsed = (this.now().getTime() - Date.parse(record.createdAt)) / 1000;
      if (elapsed >= wallClock) {
        return `wall-clock budget of ${wallClock} s spent (${Math.floor(elapsed)} s since the sweep was created)`;
      }
    }
    return undefined;
  }

  private finished(
    record: SweepRecord,
    status: 'completed' | 'failed' | 'cancelled',
    reason?: string,
  ): SweepRecord {
    return {
      ...record,
      status,
      ...(reason !== undefined ? { reason } : {}),
      finishedAt: this.now().toISOString(),
    };
  }

  private async saveRecord(record: SweepRecord): Promise<void> {
    await this.store.putSweep(record);
  }

  /**
   * Compares one unfinished trial with its job and stores what changed. Returns the new state, or
   * 'contended' when a worker wrote the state in between (the next pass picks it up).
   */
  private async syncTrial(
    record: SweepRecord,
    trial: StoredTrial,
  ): Promise<TrialState | 'contended'> {
    const { state } = trial;
    if (isTerminalTrialStatus(state.status)) return state;
    const job = await this.queue.getJob(state.trialId);
    let next: TrialState | undefined;
    if (job === undefined) {
      if (record.status === 'running') {
        // Saved as queued but the job never made it (a crash in between), or it was removed
        // (pause): add it again. The job id is the trial id, so a trial never runs twice at once.
        await this.addJob(record, state);
        return state;
      }
      // Taken off the queue by a pause: stays queued until resumed.
      if (record.status === 'paused') return state;
      next = { ...state, status: 'cancelled', reason: record.reason ?? 'sweep ended' };
    } else {
      const jobState = await job.getState();
      // Read the job again after its state: the copy above may predate its return value.
      const ended =
        jobState === 'completed' || jobState === 'failed'
          ? await this.queue.getJob(state.trialId)
          : undefined;
      if (jobState === 'completed' && ended !== undefined) {
        next = applyResult(state, ended);
      } else if (jobState === 'failed' && ended !== undefined) {
        next = applyFailure(state, ended);
      } else if (jobState === 'active' && state.status === 'queued') {
        next = {
          ...state,
          status: 'running',
          attempts: job.attemptsMade,
          ...(job.processedOn !== undefined
            ? { startedAt: new Date(job.processedOn).toISOString() }
            : {}),
        };
      }
    }
    if (next === undefined) return state;
    if (!(await this.store.compareAndSetTrial(record.id, next, trial.raw))) return 'contended';
    if (isTerminalTrialStatus(next.status)) {
      this.options.logger.info(
        { sweepId: record.id, trialId: next.trialId, status: next.status, reason: next.reason },
        'trial ended',
      );
    }
    return next;
  }

  /** Enqueues trials while fewer than `parallelism` are unfinished and the budget allows. */
  private async enqueueMore(record: SweepRecord, trials: TrialState[]): Promise<SweepRecord> {
    const spec = record.spec;
    let active = trials.filter((t) => !isTerminalTrialStatus(t.status)).length;
    // A crash between saving a trial and the record can leave trials beyond startedTrials.
    let started = Math.max(record.startedTrials, ...trials.map((t) => t.trialNumber));
    let planned = record.plannedTrials;
    if (active >= spec.parallelism || started >= planned) {
      return started === record.startedTrials ? record : { ...record, startedTrials: started };
    }
    const sampler = this.samplerOf(record);
    // Warm-start results come first, numbered 0, -1, ... so every trial counts them as earlier.
    const history: Observation[] = [
      ...record.warmStart.map((w, index): Observation => ({
        trialNumber: -index,
        params: w.params,
        value: w.objectiveValue,
        status: 'completed',
      })),
      ...trials.map((t) => ({
        trialNumber: t.trialNumber,
        params: t.params,
        value: t.objectiveValue,
        status: t.status,
      })),
    ];
    let next = record;
    while (active < spec.parallelism && started < planned) {
      const trialNumber = started + 1;
      const params = sampler.suggest({ trialNumber, history });
      if (params === undefined) {
        // The space ran out before maxTrials (e.g. a grid smaller than asked for).
        planned = started;
        break;
      }
      const state: TrialState = {
        trialId: trialIdOf(record.id, trialNumber),
        trialNumber,
        status: 'queued',
        params,
        epochsCompleted: 0,
        objectiveValue: null,
        attempts: 0,
        queuedAt: this.now().toISOString(),
      };
      // Build the payload before saving anything: a spec/params mismatch must not leave a trial.
      const payload = this.payloadOf(record, state);
      // State before job: a worker may pick the job up at once and must find the trial.
      if (!(await this.store.compareAndSetTrial(record.id, state, undefined))) {
        throw new Error(`trial ${state.trialId} already exists; refusing to overwrite it`);
      }
      next = { ...next, startedTrials: trialNumber, plannedTrials: planned };
      await this.saveRecord(next);
      await this.addPayload(payload);
      trials.push(state);
      history.push({ trialNumber, params, value: null, status: 'queued' });
      started = trialNumber;
      active += 1;
      this.options.logger.info(
        { sweepId: record.id, trialId: state.trialId, params },
        'trial queued',
      );
    }
    return { ...next, startedTrials: started, plannedTrials: planned };
  }

  /**
   * The sweep's sampler. With warm-start results, TPE's random startup is shortened by their
   * number: they already are the observations the startup trials would have produced.
   */
  private samplerOf(record: SweepRecord): Sampler {
    const { spec } = record;
    let search = spec.search;
    if (search.strategy === 'tpe' && record.warmStart.length > 0) {
      const startup = search.tpe?.startupTrials ?? DEFAULT_TPE_STARTUP_TRIALS;
      search = {
        ...search,
        tpe: { ...search.tpe, startupTrials: Math.max(0, startup - record.warmStart.length) },
      };
    }
    return createSampler(search, { seed: spec.training.seed, goal: spec.objective.goal });
  }

  /** The spec's early-stopping rule with ASHA's maxEpochs resolved (what workers run). */
  private earlyStoppingOf(spec: SweepSpec): TrialPayload['earlyStopping'] {
    const rule = spec.earlyStopping;
    if (rule?.type === 'asha')
      return { ...rule, maxEpochs: rule.maxEpochs ?? maxTrialEpochs(spec) };
    return rule;
  }

  /** Takes trials that have not started off the queue; their states stay `queued`. */
  private async unqueueNotStarted(trials: readonly StoredTrial[]): Promise<void> {
    for (const { state } of trials) {
      if (state.status !== 'queued') continue;
      const job = await this.queue.getJob(state.trialId);
      if (job === undefined || !NOT_STARTED_JOB_STATES.has(await job.getState())) continue;
      try {
        await job.remove();
      } catch {
        // A worker took it between getState and remove: it runs to its end.
      }
    }
  }

  private payloadOf(record: SweepRecord, state: TrialState): TrialPayload {
    const { model, training } = resolveTrialConfig(record.spec, state.params);
    return trialPayloadSchema.parse({
      sweepId: record.id,
      trialId: state.trialId,
      trialNumber: state.trialNumber,
      dataset: record.spec.dataset,
      model,
      training,
      objective: record.spec.objective,
      params: state.params,
      artifactsBucket: record.artifactsBucket,
      ...(record.spec.earlyStopping !== undefined
        ? { earlyStopping: this.earlyStoppingOf(record.spec) }
        : {}),
    });
  }

  private async addJob(record: SweepRecord, state: TrialState): Promise<void> {
    await this.addPayload(this.payloadOf(record, state));
  }

  private async addPayload(payload: TrialPayload): Promise<void> {
    const retention = { age: DEFAULT_JOB_RETENTION_SECONDS };
    await this.queue.add('trial', payload, {
      jobId: payload.trialId,
      attempts: this.options.jobAttempts ?? DEFAULT_JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: this.options.jobBackoffMs ?? DEFAULT_JOB_BACKOFF_MS },
      removeOnComplete: retention,
      removeOnFail: retention,
    });
  }

  /**
   * Ends a sweep's unfinished trials: removes jobs that have not started (their trials become
   * cancelled here) and publishes one cancel message for the running ones (their workers end them).
   */
  private async stopTrials(
    sweepId: string,
    trials: readonly StoredTrial[],
    reason: string,
  ): Promise<void> {
    const running: string[] = [];
    for (const trial of trials) {
      const { state } = trial;
      if (isTerminalTrialStatus(state.status)) continue;
      const job = await this.queue.getJob(state.trialId);
      let removed = job === undefined;
      if (job !== undefined && NOT_STARTED_JOB_STATES.has(await job.getState())) {
        try {
          await job.remove();
          removed = true;
        } catch {
          // A worker took it between getState and remove: it is running now.
        }
      }
      if (removed) {
        const cancelled: TrialState = {
          ...state,
          status: 'cancelled',
          reason,
          finishedAt: this.now().toISOString(),
        };
        if (await this.store.compareAndSetTrial(sweepId, cancelled, trial.raw)) continue;
      }
      running.push(state.trialId);
    }
    if (running.length > 0) {
      const receivers = await this.store.publishControl({
        type: 'cancel',
        trialIds: running,
        reason,
      });
      this.options.logger.info({ sweepId, trialIds: running, receivers }, 'cancel published');
    }
  }

  /** Writes runs/<sweepId>/sweep.json: the spec, status, counts and best trial. */
  private async writeSweepJson(record: SweepRecord, trials: readonly TrialState[]): Promise<void> {
    const document = {
      id: record.id,
      kind: record.kind,
      ...(record.name !== undefined ? { name: record.name } : {}),
      status: record.status,
      ...(record.reason !== undefined ? { reason: record.reason } : {}),
      createdAt: record.createdAt,
      ...(record.finishedAt !== undefined ? { finishedAt: record.finishedAt } : {}),
      plannedTrials: record.plannedTrials,
      startedTrials: record.startedTrials,
      sampler: record.sampler,
      counts: countTrials(trials),
      best: record.best,
      spec: record.spec,
      trials: trials.map((t) => ({
        trialId: t.trialId,
        status: t.status,
        params: t.params,
        objectiveValue: t.objectiveValue,
        ...(t.reason !== undefined ? { reason: t.reason } : {}),
      })),
    };
    await putObject(
      this.options.s3,
      record.artifactsBucket,
      runKeys(record.id).sweepJson,
      `${JSON.stringify(document, null, 2)}\n`,
      { contentType: 'application/json' },
    );
  }
}

/** The best finished trial under the sweep's objective, or null. Ties keep the earlier trial. */
function bestOf(record: SweepRecord, trials: readonly TrialState[]): BestTrialSummary | null {
  let best: TrialState | undefined;
  for (const trial of trials) {
    if (trial.status !== 'completed' && trial.status !== 'early-stopped') continue;
    if (trial.objectiveValue === null || !Number.isFinite(trial.objectiveValue)) continue;
    if (
      best === undefined ||
      isBetter(record.spec.objective.goal, trial.objectiveValue, best.objectiveValue ?? NaN)
    ) {
      best = trial;
    }
  }
  if (best?.objectiveValue == null) return null;
  return { trialId: best.trialId, params: best.params, objectiveValue: best.objectiveValue };
}

function finishedAt(job: Job): string {
  return new Date(job.finishedOn ?? Date.now()).toISOString();
}

/** The trial state after its job completed with `job.returnvalue` (a TrialResult). */
function applyResult(state: TrialState, job: Job): TrialState {
  const parsed = trialResultSchema.safeParse(job.returnvalue);
  if (!parsed.success) {
    return {
      ...state,
      status: 'failed',
      reason: `the worker returned an invalid result: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      attempts: job.attemptsMade,
      finishedAt: finishedAt(job),
    };
  }
  const result = parsed.data;
  return {
    ...state,
    status: result.status,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    objectiveValue: result.objectiveValue,
    epochsCompleted: Math.max(state.epochsCompleted, result.epochsCompleted),
    trialJson: result.trialJson,
    attempts: job.attemptsMade,
    finishedAt: finishedAt(job),
  };
}

/** How a failed job's reason maps to a trial status (the worker words cancels and divergence so). */
export function failureStatus(failedReason: string): TrialStatus {
  if (/cancel/i.test(failedReason)) return 'cancelled';
  if (/diverg/i.test(failedReason)) return 'diverged';
  return 'failed';
}

function applyFailure(state: TrialState, job: Job): TrialState {
  const reason = job.failedReason || 'failed without a reason';
  return {
    ...state,
    status: failureStatus(reason),
    reason,
    attempts: job.attemptsMade,
    finishedAt: finishedAt(job),
  };
}
