import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  isBetter,
  type CheckpointRoot,
  type EpochMetrics,
  type TrialPayload,
} from '@setrain/protocol';

import type { Logger } from '../logger.js';
import type { WorkerMetrics } from '../metrics.js';
import { objectiveOf } from '../objective.js';
import type { TrialStarted } from '../trial-ipc.js';
import { errorMessage } from '../worker-error.js';
import { decideAfterEpoch } from './early-stopping.js';
import type { TrialProcessListeners } from './trainer-launcher.js';
import type { TrialStateStore } from './trial-state-store.js';

/** What the job holder learns of a trial while it trains. */
export interface TrialProgress {
  /** Every epoch reported (restored ones included), in order. */
  readonly epochs: EpochMetrics[];
  /** Best objective value so far. */
  best: number | null;
}

/** What {@link trialListeners} needs. */
export interface TrialListenerDeps {
  readonly job: Job;
  readonly payload: TrialPayload;
  readonly store: TrialStateStore;
  readonly redis: Redis;
  readonly keyPrefix: string;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics | undefined;
  /** The trainer started training (its data and model are ready). */
  readonly onTrainingStarted: () => void;
  readonly onEpochTensors?:
    ((trialId: string, epoch: number, numTensors: number) => void) | undefined;
  readonly onTrialStarted?: ((trialId: string, started: TrialStarted) => void) | undefined;
  /** Deletes checkpoints an epoch's superseded (called once their successor is recorded). */
  readonly deleteCheckpoints: (roots: readonly CheckpointRoot[]) => Promise<void>;
  /**
   * The trial's epoch list is known to be empty: this is its first start (its state had no
   * attempt and no start), so no worker has appended to it and a reset to no epochs can be skipped.
   */
  readonly epochsEmpty: boolean;
}

function track(progress: TrialProgress, payload: TrialPayload, metrics: EpochMetrics): void {
  const value = objectiveOf(metrics, payload.objective);
  if (value === undefined) return;
  if (progress.best === null || isBetter(payload.objective.goal, value, progress.best)) {
    progress.best = value;
  }
}

/**
 * The listeners that record a trainer's reports: trial state and epoch list in Redis, job
 * progress, and the early-stopping decision. A listener that throws (after the store's retries)
 * stops the trial (see the launcher).
 */
export function trialListeners(
  deps: TrialListenerDeps,
  progress: TrialProgress,
): TrialProcessListeners {
  const { job, payload, store, log } = deps;
  return {
    onMetric: (event) => deps.metrics?.apply(event),
    onStarted: async (started) => {
      log.info(
        {
          engine: started.engine,
          resumedFromEpoch: started.resumedFromEpoch,
          downloaded: started.downloaded,
          cached: started.cached,
        },
        'trial started',
      );
      for (const problem of started.checkpointProblems) {
        log.warn({ problem }, 'checkpoint failed verification; resuming from an earlier one');
      }
      deps.onTrialStarted?.(payload.trialId, started);
      deps.onTrainingStarted();
      progress.epochs.splice(0, progress.epochs.length, ...started.history);
      progress.best = null;
      for (const metrics of started.history) track(progress, payload, metrics);
      if (started.history.length > 0 || !deps.epochsEmpty) {
        await store.resetEpochs(payload.trialId, started.history);
      }
      // Only the job's holder writes these fields, and a fresh start leaves them as the attempt's
      // start wrote them: then nothing is sent (one write per trial start instead of two).
      await store.updateIfChanged(payload, (current) => ({
        epochsCompleted: started.history.length,
        objectiveValue: progress.best,
        // No checkpoints reads the same as an empty list (every reader defaults to []).
        ...(started.checkpoints.length > 0 || current.checkpoints !== undefined
          ? { checkpoints: [...started.checkpoints] }
          : {}),
      }));
    },
    onBatch: async (batch) => {
      await job.updateProgress({ ...batch, epochs: payload.training.epochs });
    },
    onEpoch: async (metrics, numTensors, checkpoints, superseded) => {
      deps.onEpochTensors?.(payload.trialId, metrics.epoch, numTensors);
      progress.epochs.push(metrics);
      track(progress, payload, metrics);
      await store.appendEpoch(payload.trialId, metrics);
      await store.update(payload, {
        epochsCompleted: metrics.epoch,
        latest: metrics,
        objectiveValue: progress.best,
        checkpoints: [...checkpoints],
      });
      // Only now that the new root is recorded: until then a resume trusts the superseded ones.
      await deps.deleteCheckpoints(superseded).catch((error: unknown) => {
        log.warn(
          { error: errorMessage(error), checkpoints: superseded.map((root) => root.prefix) },
          'could not delete superseded checkpoints; they stay in the bucket',
        );
      });
      await job.updateProgress({ epoch: metrics.epoch, epochs: payload.training.epochs, metrics });
      log.info(
        {
          epoch: metrics.epoch,
          val_loss: metrics.val_loss,
          durationMs: metrics.durationMs,
        },
        'epoch done',
      );
    },
    onDecide: async (epoch) => {
      try {
        const decision = await decideAfterEpoch(deps.redis, deps.keyPrefix, payload, epoch);
        if (decision.action === 'stop') {
          log.info({ epoch, reason: decision.reason }, 'trial early-stopped');
          // Recorded at once; the trial ends early-stopped once final/ and trial.json are written.
          await store.update(payload, { reason: decision.reason });
        }
        return decision;
      } catch (error) {
        log.warn(
          {
            epoch,
            error: errorMessage(error),
          },
          'early-stopping decision failed; the trial goes on',
        );
        return { action: 'continue' };
      }
    },
  };
}
