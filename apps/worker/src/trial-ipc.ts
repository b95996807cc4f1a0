/**
 * Messages between the worker process (which holds the BullMQ job and its lock) and the trial
 * process it forks for each trial (which trains). Plain data, sent over Node's IPC channel.
 */
import type { EngineName } from '@setrain/engine';
import type {
  AttemptLogEntry,
  CheckpointRoot,
  EarlyStopAction,
  EpochMetrics,
  TrialPayload,
  TrialRecord,
  TrialStatus,
} from '@setrain/protocol';
import type { S3Config } from '@setrain/storage';

import type { WorkerMetricEvent } from './metrics.js';
import type { TrialDataOptions } from './trial-data.js';
import type { TrialLimits } from './trainer/trial-limits.js';
import type { WorkerErrorCode } from './worker-error.js';

/** Faults tests inject to exercise failure paths that real data cannot produce on demand. */
export interface TrialFaults {
  /** Report a NaN loss at this 1-based global training step. */
  readonly nanLossAtStep?: number;
  /** Sleep this long after every training batch (makes cancel and kill tests deterministic). */
  readonly batchDelayMs?: number;
}

/** Everything a trial process needs to run one trial. */
export interface TrialRunRequest {
  readonly payload: TrialPayload;
  readonly s3: S3Config;
  readonly engine: EngineName;
  /** Threads for the engine; undefined: the engine's default (every core). */
  readonly engineThreads?: number;
  /** The native engine's kernel queue on or off; undefined: the engine's default (on). */
  readonly engineKernelQueue?: boolean;
  readonly workerId: string;
  readonly cacheDir: string;
  readonly downloadConcurrency: number;
  /** Image limits and cache budgets; defaults when absent. */
  readonly data?: TrialDataOptions;
  /** Memory budget and data buckets re-checked before training; defaults when absent. */
  readonly limits?: TrialLimits;
  readonly faults?: TrialFaults;
  /** The trial's attempts so far, this one last (open); trial.json carries it. */
  readonly attemptsLog?: readonly AttemptLogEntry[];
  /** The trial's complete checkpoints from its Redis state: the trusted roots a resume verifies. */
  readonly checkpointRoots?: readonly CheckpointRoot[];
}

export type StopReason = 'cancel' | 'shutdown';

/** The early-stopping rule's answer for one epoch (see early-stopping.ts). */
export interface EarlyStopDecision {
  readonly action: EarlyStopAction;
  /** Why the trial stops, e.g. `early-stopped: asha rung 0 (epoch 2), ...`. */
  readonly reason?: string;
}

/** Asks a fresh trainer process to initialise the engine and run one tiny training step. */
export interface PreflightRequest {
  readonly engine: EngineName;
  readonly engineThreads?: number;
  readonly engineKernelQueue?: boolean;
}

/** How the preflight went. */
export type PreflightResult =
  | {
      readonly ok: true;
      /** The backend the engine picked and its description. */
      readonly engine: string;
      readonly description: string;
      readonly seconds: number;
    }
  | { readonly ok: false; readonly message: string };

export type ParentMessage =
  | { readonly type: 'start'; readonly request: TrialRunRequest }
  | { readonly type: 'preflight'; readonly request: PreflightRequest }
  | { readonly type: 'stop'; readonly reason: StopReason; readonly message: string }
  | ({ readonly type: 'decision'; readonly epoch: number } & EarlyStopDecision);

/** What the trial process learnt before its first batch. */
export interface TrialStarted {
  readonly engine: string;
  readonly engineDescription: string;
  readonly resumedFromEpoch: number;
  /** Metrics of the epochs the checkpoint already holds (empty on a fresh start). */
  readonly history: EpochMetrics[];
  readonly numClasses: number;
  readonly multiLabel: boolean;
  readonly trainImages: number;
  readonly validationImages: number;
  readonly manifestEtag: string;
  readonly downloaded: number;
  readonly cached: number;
  /** The checkpoints kept after the resume (roots that failed verification are dropped). */
  readonly checkpoints: readonly CheckpointRoot[];
  /** Checkpoints that failed verification on resume, each naming the object and why. */
  readonly checkpointProblems: readonly string[];
}

export type TrialOutcome =
  | {
      readonly kind: 'completed';
      readonly record: TrialRecord;
      readonly trialJsonKey: string;
      /** The checkpoints kept after the final stage (retention applied). */
      readonly checkpoints: readonly CheckpointRoot[];
    }
  | {
      /** Stopped for a worker shutdown; the last epoch checkpoint stays for the next attempt. */
      readonly kind: 'stopped';
      readonly lastCheckpointEpoch: number;
    }
  | {
      readonly kind: 'failed';
      readonly status: Extract<TrialStatus, 'failed' | 'diverged' | 'cancelled'>;
      readonly code: WorkerErrorCode | 'UNEXPECTED';
      readonly message: string;
      /** Whether retrying may help (S3 or Redis outages); false for bad data, divergence, cancel. */
      readonly retryable: boolean;
      readonly trialJsonKey?: string;
      readonly epochsCompleted: number;
    };

export type ChildMessage =
  | { readonly type: 'started'; readonly started: TrialStarted }
  | { readonly type: 'phase'; readonly phase: string }
  | {
      readonly type: 'batch';
      readonly epoch: number;
      readonly batch: number;
      readonly batches: number;
      readonly loss: number;
    }
  | {
      readonly type: 'epoch';
      readonly metrics: EpochMetrics;
      /** tf.memory().numTensors after the epoch: equal across epochs when nothing leaks. */
      readonly numTensors: number;
      /** The checkpoints kept after this epoch's (oldest first), with their trusted roots. */
      readonly checkpoints: readonly CheckpointRoot[];
      /** The checkpoints this epoch's supersedes: deleted once `checkpoints` is recorded. */
      readonly superseded: readonly CheckpointRoot[];
    }
  /** A measurement for the worker's /metrics (the trial process has no registry of its own). */
  | { readonly type: 'metric'; readonly event: WorkerMetricEvent }
  /** Asks for the early-stopping decision after `epoch`; the trial waits for the answer. */
  | { readonly type: 'decide'; readonly epoch: number }
  | { readonly type: 'outcome'; readonly outcome: TrialOutcome }
  | { readonly type: 'preflight-result'; readonly result: PreflightResult };
