import { randomBytes } from 'node:crypto';

import {
  isFinishedSweepStatus,
  isMultiObjective,
  isTerminalTrialStatus,
  newSweepId,
  parseTrialId,
  type CancelOutcome,
  type StopRequest,
  type TrialState,
  type UpdateSweepBody,
  type SweepSpec,
} from '@setrain/protocol';
import { plannedTrialCount } from '@setrain/sweep';

import { DEFAULT_RECONCILE_INTERVAL_MS } from '../config.js';
import { ApiError } from '../errors.js';
import { type SweepRecord } from '../sweep-record.js';
import { type PassReads, type StoredTrial, type SweepStore } from '../sweep-store.js';
import { collectWarmStart } from '../warm-start.js';
import { StaleSweepWriteError } from '../stale-sweep-write-error.js';
import {
  bestOf,
  failureCriterion,
  finishedRecord,
  settledOutcome,
  stopCriterion,
} from './budget.js';
import {
  DEFAULT_LOCK_TTL_MS,
  DEFAULT_LOCK_WAIT_MS,
  type CreateSweepInput,
  type SweepControllerOptions,
} from './options.js';
import { writeSweepJson } from './sweep-json.js';
import { SweepLock } from './sweep-lock.js';
import { TrialEnqueuer } from './trial-enqueuer.js';
import { PbtStepper } from './pbt-stepper.js';
import { samplerOf } from './trial-payload.js';
import { TrialCache } from './trial-cache.js';
import { TrialStopper } from './trial-stopper.js';
import { TrialSync } from './trial-sync.js';
import { runUserAction } from './user-action.js';

/** How many settled sweeps a controller remembers, so that it does not archive them again. */
const SETTLED_SWEEPS_KEPT = 64;
/** Extra passes of one advance when a worker wrote a trial state under our feet. */
const MAX_CONTENDED_PASSES = 3;
/** How long a user action (cancel, pause, resume, PATCH) waits for the sweep lock. */
const USER_LOCK_WAIT_MS = DEFAULT_LOCK_WAIT_MS * 5;
/**
 * How long a job's `active` event waits to be folded in. The worker marks its trial running itself,
 * so this advance only records what it may have missed (a stall count, a worker that died before
 * writing): it rides along with the next trial end's advance, or runs alone after this delay,
 * instead of costing a whole advance under the lock per trial start.
 */
const ACTIVE_EVENT_DELAY_MS = 250;

/**
 * Which unfinished trials an advance compares with their jobs: all of them, or only those a queue
 * event named (the others keep their stored state until their own event or the reconcile loop).
 */
type SyncScope = 'all' | Set<string>;

function mergeScopes(a: SyncScope, b: SyncScope): SyncScope {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

/**
 * Drives sweeps: samples parameters, enqueues trials up to the sweep's parallelism, folds finished
 * trials back in (best trial, counts), and ends the sweep. All state lives in Redis; any number of
 * API replicas can run a controller: a per-sweep lock serialises advances, and deterministic job
 * ids (`<sweepId>.<n>`) make a repeated enqueue a no-op.
 */
export class SweepController {
  private readonly store: SweepStore;
  private readonly options: SweepControllerOptions;
  private readonly now: () => Date;
  private readonly lock: SweepLock;
  private readonly enqueuer: TrialEnqueuer;
  private readonly trialSync: TrialSync;
  private readonly stopper: TrialStopper;
  private readonly trialCache: TrialCache;
  private readonly pbt: PbtStepper;
  private readonly inFlight = new Map<
    string,
    { again: boolean; scope: SyncScope; done: Promise<void> }
  >();
  /** Trials whose `active` event waits for the next advance of their sweep (ACTIVE_EVENT_DELAY_MS). */
  private readonly deferred = new Map<string, { trialIds: Set<string>; timer: NodeJS.Timeout }>();
  /** Per sweep, the record as this process last stored it in the advance under way. */
  private readonly lastStored = new Map<string, SweepRecord>();
  /**
   * Sweeps this process settled (archived and marked inactive), by the record version it settled:
   * a later pass over the same version (an event that arrived meanwhile) archives nothing again.
   */
  private readonly settledVersions = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private reconciling: Promise<void> | undefined;

  constructor(options: SweepControllerOptions) {
    this.options = options;
    const { store, queue, logger } = options;
    this.store = store;
    this.now = options.now ?? (() => new Date());
    this.lock = new SweepLock({ store, logger, ttlMs: options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS });
    this.enqueuer = new TrialEnqueuer({
      store,
      queue,
      logger,
      now: this.now,
      recordStored: (stored) => this.lastStored.set(stored.id, stored),
      ...(options.jobAttempts !== undefined ? { jobAttempts: options.jobAttempts } : {}),
      ...(options.jobBackoffMs !== undefined ? { jobBackoffMs: options.jobBackoffMs } : {}),
    });
    this.trialSync = new TrialSync({ store, queue, enqueuer: this.enqueuer, logger });
    this.pbt = new PbtStepper({
      store,
      queue,
      enqueuer: this.enqueuer,
      s3: options.s3,
      logger,
      now: this.now,
    });
    this.stopper = new TrialStopper({ store, enqueuer: this.enqueuer, logger, now: this.now });
    this.trialCache = new TrialCache(store);
  }

  /** Subscribes to queue events and starts the reconcile loop (first pass right away). */
  start(): void {
    const events = this.options.queueEvents;
    if (events !== undefined) {
      const onEnd = ({ jobId }: { jobId: string }): void => {
        const parsed = parseTrialId(jobId);
        if (parsed !== undefined) this.advanceInBackground(parsed.sweepId, jobId);
      };
      events.on('completed', onEnd);
      events.on('failed', onEnd);
      events.on('active', ({ jobId }: { jobId: string }) => {
        const parsed = parseTrialId(jobId);
        if (parsed !== undefined) this.deferActive(parsed.sweepId, jobId);
      });
    }
    const interval = this.options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
    this.timer = setInterval(() => void this.reconcileAll(), interval);
    this.timer.unref();
    void this.reconcileAll();
  }

  /** Stops the loop and waits for advances in progress. Does not close the queue or Redis. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const { timer } of this.deferred.values()) clearTimeout(timer);
    this.deferred.clear();
    await this.reconciling;
    await Promise.allSettled([...this.inFlight.values()].map((e) => e.done));
  }

  /** Advances every active sweep once (what a restarted API does first). */
  reconcileAll(): Promise<void> {
    this.reconciling ??= (async () => {
      try {
        for (const sweepId of await this.store.activeSweepIds()) {
          if (this.closed) break;
          await this.advance(sweepId).catch((error: unknown) => {
            this.options.logger.error({ err: error, sweepId }, 'advancing sweep failed');
          });
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
      version: 0,
    };
    // Fails here (not in the first advance) when the sampler rejects the search section.
    samplerOf(record);
    if (spec.notify !== undefined && this.options.notifier === undefined) {
      const message =
        'this API sends no webhooks (it has no SETRAIN_WEBHOOK_SECRET to sign them with); leave notify out or ask its operator to set one';
      throw new ApiError('SPEC_INVALID', { detail: `notify: ${message}` }, [
        { path: 'notify', message },
      ]);
    }
    // S3 first: if it is down the sweep is never half-created.
    await writeSweepJson(this.options.s3, record, []);
    await this.store.createSweep(record);
    await this.options.notifier?.sweepChanged(undefined, record);
    this.options.logger.info(
      { sweepId: record.id, plannedTrials: record.plannedTrials },
      'sweep created',
    );
    await this.advance(record.id);
    return (await this.store.getSweep(record.id)) ?? record;
  }

  /**
   * Cancels an unfinished sweep. First, without the sweep lock, it records the cancel durably
   * (workers obey it even if they miss the message), removes trials that have not started and
   * tells workers to stop the running ones; then an advance marks the sweep cancelled. When
   * another replica holds the lock the answer says `queued`: the next advance (that replica's, or
   * the reconcile loop's) applies the recorded cancel. Undefined when there is no such sweep.
   */
  async cancel(
    sweepId: string,
    reason: string,
  ): Promise<{ record: SweepRecord; cancel: CancelOutcome } | undefined> {
    const record = await this.store.getSweep(sweepId);
    if (record === undefined) return undefined;
    const stop: StopRequest = { kind: 'cancel', reason, requestedAt: this.stamp() };
    const trials = await this.store.getStoredTrials(sweepId);
    const stopped = await this.stopper.stopTrials(sweepId, trials, stop);
    this.options.logger.info({ sweepId, reason, ...stopped }, 'sweep cancel recorded');
    await this.advance(sweepId);
    const after = (await this.store.getSweep(sweepId)) ?? record;
    const state = isFinishedSweepStatus(after.status) ? 'done' : 'queued';
    return { record: after, cancel: { state, ...stopped } };
  }

  /**
   * Pauses a running sweep: trials that have not started leave the queue (they stay `queued` and
   * go back on resume), running ones finish, nothing new is enqueued. Pausing a paused sweep is a
   * no-op; a finished one answers SWEEP_FINISHED.
   */
  async pause(sweepId: string): Promise<SweepRecord> {
    const paused = await this.userAction(sweepId, 'pause', async (record) => {
      if (record.status === 'paused') return record;
      const next = await this.saveRecord({ ...record, status: 'paused', updatedAt: this.stamp() });
      await this.options.notifier?.sweepChanged(record, next);
      await this.enqueuer.unqueueNotStarted(await this.store.getStoredTrials(sweepId));
      this.options.logger.info({ sweepId }, 'sweep paused');
      return next;
    });
    await this.advance(sweepId);
    return (await this.store.getSweep(sweepId)) ?? paused;
  }

  /** Resumes a paused sweep: its queued trials go back on the queue and new ones follow. */
  async resume(sweepId: string): Promise<SweepRecord> {
    const resumed = await this.userAction(sweepId, 'resume', async (record) => {
      if (record.status === 'running') return record;
      const next = await this.saveRecord({ ...record, status: 'running', updatedAt: this.stamp() });
      await this.options.notifier?.sweepChanged(record, next);
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
    const updated = await this.userAction(sweepId, 'update', async (record) => {
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
      const next = await this.saveRecord({
        ...record,
        spec,
        plannedTrials: Math.max(record.startedTrials, plannedTrialCount(spec)),
        updatedAt: this.stamp(),
      });
      this.options.logger.info(
        { sweepId, parallelism: spec.parallelism, plannedTrials: next.plannedTrials },
        'sweep updated',
      );
      return next;
    });
    await this.advance(sweepId);
    return (await this.store.getSweep(sweepId)) ?? updated;
  }

  /** Runs a user action under the sweep's lock, applied again when fenced off (user-action.ts). */
  private userAction(
    sweepId: string,
    action: string,
    fn: (record: SweepRecord) => Promise<SweepRecord>,
  ): Promise<SweepRecord> {
    const { store, lock } = this;
    const lockWaitMs = this.options.userLockWaitMs ?? USER_LOCK_WAIT_MS;
    const logger = this.options.logger;
    return runUserAction({ store, lock, logger, lockWaitMs }, sweepId, action, fn);
  }

  /**
   * Brings a sweep up to date with its jobs, enqueues what its budget allows, and ends it when
   * done. Concurrent calls for one sweep coalesce into one run plus at most one re-run.
   */
  advance(sweepId: string): Promise<void> {
    return this.advanceScoped(sweepId, 'all');
  }

  /**
   * advance() for `scope`: a queue event's advance compares only its own trial with its job and
   * (when this process wrote the sweep last) re-reads only the unfinished trials; 'all' reads
   * and compares everything.
   */
  private advanceScoped(sweepId: string, requested: SyncScope): Promise<void> {
    const scope = mergeScopes(requested, this.takeDeferred(sweepId));
    const existing = this.inFlight.get(sweepId);
    if (existing !== undefined) {
      existing.again = true;
      existing.scope = mergeScopes(existing.scope, scope);
      return existing.done;
    }
    const entry = { again: false, scope, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        let passes = 0;
        do {
          entry.again = false;
          const passScope = entry.scope;
          entry.scope = new Set();
          // An event's pass reads the unfinished trials the cache holds with the lock and record.
          const readAhead = passScope === 'all' ? undefined : this.trialCache.openIds(sweepId);
          const contended = await this.lock.withLockAndReads(
            sweepId,
            DEFAULT_LOCK_WAIT_MS,
            readAhead,
            (reads) => this.advanceFenced(sweepId, passScope, reads),
          );
          if (contended === true && passes++ < MAX_CONTENDED_PASSES) {
            entry.again = true;
            entry.scope = mergeScopes(entry.scope, passScope);
          }
        } while (entry.again && !this.closed);
      } finally {
        this.inFlight.delete(sweepId);
      }
    })();
    this.inFlight.set(sweepId, entry);
    return entry.done;
  }

  /** Queues an `active` event's trial for its sweep's next advance (ACTIVE_EVENT_DELAY_MS at most). */
  private deferActive(sweepId: string, trialId: string): void {
    if (this.closed) return;
    const pending = this.deferred.get(sweepId);
    if (pending !== undefined) {
      pending.trialIds.add(trialId);
      return;
    }
    const timer = setTimeout(() => {
      const trialIds = this.takeDeferred(sweepId);
      if (trialIds.size > 0) this.advanceInBackgroundScoped(sweepId, trialIds);
    }, ACTIVE_EVENT_DELAY_MS);
    timer.unref();
    this.deferred.set(sweepId, { trialIds: new Set([trialId]), timer });
  }

  /** The trials whose `active` events wait for the sweep's next advance, now taken (none left). */
  private takeDeferred(sweepId: string): Set<string> {
    const pending = this.deferred.get(sweepId);
    if (pending === undefined) return new Set();
    clearTimeout(pending.timer);
    this.deferred.delete(sweepId);
    return pending.trialIds;
  }

  private advanceInBackground(sweepId: string, trialId: string): void {
    this.advanceInBackgroundScoped(sweepId, new Set([trialId]));
  }

  private advanceInBackgroundScoped(sweepId: string, scope: Set<string>): void {
    if (this.closed) return;
    this.advanceScoped(sweepId, scope).catch((error: unknown) => {
      this.options.logger.error({ err: error, sweepId }, 'advancing sweep failed');
    });
  }

  /** One advance; a write fenced off by a newer version counts as contended (re-read, retry). */
  private async advanceFenced(
    sweepId: string,
    scope: SyncScope,
    reads: PassReads,
  ): Promise<boolean> {
    try {
      return await this.advanceLocked(sweepId, scope, reads);
    } catch (error) {
      this.trialCache.forget(sweepId);
      if (!(error instanceof StaleSweepWriteError)) throw error;
      this.options.logger.warn({ sweepId, err: error }, 'sweep changed under this advance');
      return true;
    }
  }

  /** One advance under the lock. Returns true when a trial state changed under our feet. */
  private async advanceLocked(
    sweepId: string,
    scope: SyncScope,
    reads: PassReads,
  ): Promise<boolean> {
    this.lastStored.delete(sweepId);
    try {
      return await this.advanceStored(sweepId, scope, reads);
    } finally {
      this.lastStored.delete(sweepId);
    }
  }

  /**
   * advanceLocked's pass; `lastStored` follows the record's writes in it. `reads` came with the
   * lock: the record, the stop (read even when the sweep has ended; it is small) and, for an
   * event's pass, the unfinished trials the cache held (used if the record is still at the
   * cache's version).
   */
  private async advanceStored(
    sweepId: string,
    scope: SyncScope,
    reads: PassReads,
  ): Promise<boolean> {
    const { record: loaded, stop, trials: prefetched } = reads;
    if (loaded === undefined) {
      this.trialCache.forget(sweepId);
      await this.store.markInactive(sweepId);
      return false;
    }
    // 0. A cancel recorded without the lock (or by a replica that died) ends the sweep first.
    let record = this.applyRecordedCancel(loaded, stop);
    // 1. Fold the queue's view of the unfinished trials in scope into their states. A sweep that
    // has ended is read whole (it is about to stop its trials or settle).
    const full = scope === 'all' || isFinishedSweepStatus(record.status);
    const read = await this.trialCache.read(loaded, full, prefetched);
    const synced = await this.syncTrials(record, read.trials, read.full ? 'all' : scope);
    // 1b. PBT: trials that finished an interval exploit/explore and are requeued.
    const stepped = await this.pbt.step(record, synced.trials);
    const trials = stepped.trials.map((t) => t.state);
    // 2. The best trial so far (none with several objectives: their best is the Pareto front,
    // computed where it is read, pareto-front.ts).
    const best = isMultiObjective(record.spec) ? null : bestOf(record.spec.objective.goal, trials);
    if (JSON.stringify(best) !== JSON.stringify(record.best)) record = { ...record, best };
    // 3. Budget: fail, stop, enqueue more, or complete; a finished sweep stops its trials again.
    // (A sweep that ended in this pass has just stopped its trials: no second message.)
    const decided = await this.applyBudget(record, trials, isFinishedSweepStatus(loaded.status));
    record = decided.record;
    // Written already when the pass enqueued trials and changed nothing after (each new trial's
    // record write stamps updatedAt): one record write per pass, not two.
    const stored = this.lastStored.get(sweepId) ?? loaded;
    if (JSON.stringify(record) !== JSON.stringify(stored)) {
      record = await this.saveRecord({ ...record, updatedAt: this.stamp() });
    }
    if (record !== loaded && JSON.stringify(record) !== JSON.stringify(loaded)) {
      await this.options.notifier?.sweepChanged(loaded, record);
    }
    // 4. Ended and settled: write the final sweep.json once, then stop watching the sweep.
    const contended = synced.contended || stepped.contended || decided.stopped;
    if (!contended) await this.settle(record, read.full ? trials : undefined);
    // 5. What the next event's advance starts from: the trials as stored now (new ones included;
    // a trial contended in this pass is unfinished, so the next read takes it from Redis).
    if (isFinishedSweepStatus(record.status)) {
      this.trialCache.forget(sweepId);
    } else {
      const created = trials
        .slice(stepped.trials.length)
        .map((state) => ({ state, raw: JSON.stringify(state) }));
      this.trialCache.remember(sweepId, record.version, [...stepped.trials, ...created]);
    }
    return contended;
  }

  /** The record cancelled if a whole-sweep cancel (`stop`) is recorded and the sweep has not ended. */
  private applyRecordedCancel(record: SweepRecord, stop: StopRequest | undefined): SweepRecord {
    if (isFinishedSweepStatus(record.status)) return record;
    if (stop?.kind !== 'cancel') return record;
    this.options.logger.info({ sweepId: record.id, reason: stop.reason }, 'sweep cancelled');
    return finishedRecord(record, 'cancelled', this.now(), stop.reason);
  }

  /**
   * The sweep's trials after syncing the unfinished ones in `scope` with their jobs, each with the
   * JSON now stored for it (what this pass wrote, or what it read).
   */
  private async syncTrials(
    record: SweepRecord,
    stored: readonly StoredTrial[],
    scope: SyncScope,
  ): Promise<{ trials: StoredTrial[]; contended: boolean }> {
    // The trials in scope are independent: their reads and writes go out together (one round
    // trip each for all of them, not per trial).
    let contended = false;
    const trials = await Promise.all(
      stored.map(async (trial): Promise<StoredTrial> => {
        if (scope !== 'all' && !scope.has(trial.state.trialId)) return trial;
        if (isTerminalTrialStatus(trial.state.status)) return trial;
        const { current, synced } = await this.syncTrial(record, trial);
        contended ||= synced === 'contended';
        return synced === 'contended' || synced === current.state
          ? current
          : { state: synced, raw: JSON.stringify(synced) };
      }),
    );
    return { trials, contended };
  }

  /**
   * Syncs one trial; when its worker wrote it as we compared (typically marking it running as its
   * job became active), compares once more with what the worker wrote instead of a whole new pass.
   */
  private async syncTrial(
    record: SweepRecord,
    trial: StoredTrial,
  ): Promise<{ current: StoredTrial; synced: TrialState | 'contended' }> {
    const synced = await this.trialSync.sync(record, trial);
    if (synced !== 'contended') return { current: trial, synced };
    const [reread] = (await this.store.getStoredTrialsById(record.id, [trial.state.trialId]))
      .trials;
    if (reread === undefined) return { current: trial, synced };
    return { current: reread, synced: await this.trialSync.sync(record, reread) };
  }

  /**
   * Ends an unfinished sweep when its failures or budget say so (stopping its trials), else
   * enqueues what it may and ends it when every trial is done. A finished sweep with trials still
   * unfinished stops them again (a worker may have missed the stop). `stopped`: the sweep ended
   * now and stopped its trials, so the next pass re-reads them.
   */
  private async applyBudget(
    record: SweepRecord,
    trials: TrialState[],
    endedBefore: boolean,
  ): Promise<{ record: SweepRecord; stopped: boolean }> {
    if (isFinishedSweepStatus(record.status)) {
      if (endedBefore) await this.restopUnfinished(record, trials);
      return { record, stopped: false };
    }
    const failure = failureCriterion(record, trials);
    if (failure !== undefined) {
      const failed = finishedRecord(record, 'failed', this.now(), failure);
      return {
        record: await this.endAndStop(failed, 'cancel', `sweep failed: ${failure}`),
        stopped: true,
      };
    }
    const unfinished = trials.some((t) => !isTerminalTrialStatus(t.status));
    const stop =
      unfinished || record.startedTrials < record.plannedTrials
        ? stopCriterion(record, trials, this.now())
        : undefined;
    if (stop !== undefined) {
      const stopped = finishedRecord(record, 'completed', this.now(), stop);
      this.options.logger.info({ sweepId: record.id, reason: stop }, 'sweep stopped');
      return {
        record: await this.endAndStop(stopped, 'budget', `sweep stopped: ${stop}`),
        stopped: true,
      };
    }
    let next = record;
    if (next.status === 'running') next = await this.enqueuer.enqueueMore(next, trials);
    const active = trials.filter((t) => !isTerminalTrialStatus(t.status)).length;
    if (active === 0 && next.startedTrials >= next.plannedTrials) {
      const outcome = settledOutcome(trials);
      next = finishedRecord(next, outcome.status, this.now(), outcome.reason);
    }
    return { record: next, stopped: false };
  }

  /**
   * Saves an ended sweep's record, then stops its unfinished trials (the finished record is
   * itself durable: if we die in between, the reconcile loop stops them).
   */
  private async endAndStop(
    record: SweepRecord,
    kind: StopRequest['kind'],
    reason: string,
  ): Promise<SweepRecord> {
    const saved = await this.saveRecord(record);
    const stop: StopRequest = { kind, reason, requestedAt: this.stamp() };
    await this.stopper.stopTrials(record.id, await this.store.getStoredTrials(record.id), stop);
    return saved;
  }

  /** Re-records the stop and re-publishes the cancel for a finished sweep's unfinished trials. */
  private async restopUnfinished(
    record: SweepRecord,
    trials: readonly TrialState[],
  ): Promise<void> {
    if (trials.every((t) => isTerminalTrialStatus(t.status))) return;
    const recorded = await this.store.getSweepStop(record.id);
    const stop: StopRequest = recorded ?? {
      kind: 'cancel',
      reason: `sweep ${record.status}${record.reason !== undefined ? `: ${record.reason}` : ''}`,
      requestedAt: this.stamp(),
    };
    await this.stopper.stopTrials(record.id, await this.store.getStoredTrials(record.id), stop);
  }

  /**
   * When the sweep has ended and every trial settled: final sweep.json, then inactive. `read`:
   * the trials as read whole in this pass; undefined when this pass read them from the cache
   * (then they are read again here, so the final sweep.json has every trial as stored).
   */
  private async settle(
    settled: SweepRecord,
    read: readonly TrialState[] | undefined,
  ): Promise<void> {
    let record = settled;
    if (!isFinishedSweepStatus(record.status)) return;
    if (this.settledVersions.get(record.id) === record.version) return;
    const trials = read ?? (await this.store.getTrials(record.id));
    if (trials.some((t) => !isTerminalTrialStatus(t.status))) return;
    if (!record.finalSweepJsonWritten) {
      try {
        await writeSweepJson(this.options.s3, record, trials);
        record = await this.saveRecord({ ...record, finalSweepJsonWritten: true });
      } catch (error) {
        this.options.logger.warn(
          { err: error, sweepId: record.id },
          'writing the final sweep.json failed',
        );
        return; // stays active: the reconcile loop retries
      }
    }
    try {
      await this.options.archive?.archive(record, trials);
    } catch (error) {
      this.options.logger.warn({ err: error, sweepId: record.id }, 'archiving the sweep failed');
      return; // stays active: the reconcile loop retries
    }
    await this.store.markInactive(record.id);
    this.rememberSettled(record);
    this.options.logger.info(
      { sweepId: record.id, status: record.status, best: record.best?.trialId },
      'sweep ended',
    );
  }

  /** Remembers that `record`'s version is settled (the most recent SETTLED_SWEEPS_KEPT sweeps). */
  private rememberSettled(record: SweepRecord): void {
    this.settledVersions.delete(record.id);
    this.settledVersions.set(record.id, record.version);
    for (const oldest of this.settledVersions.keys()) {
      if (this.settledVersions.size <= SETTLED_SWEEPS_KEPT) break;
      this.settledVersions.delete(oldest);
    }
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  /** Writes the record as its next version (fenced); returns what was stored. */
  private async saveRecord(record: SweepRecord): Promise<SweepRecord> {
    const stored = await this.store.putSweep(record);
    this.lastStored.set(record.id, stored);
    return stored;
  }
}
