import type { S3Client } from '@aws-sdk/client-s3';
import {
  runKeys,
  type CheckpointRoot,
  type EpochMetrics,
  type TrialPayload,
  type TrialRecord,
} from '@setrain/protocol';
import { createS3Client } from '@setrain/storage';

import { WORKER_PACKAGE_VERSION } from '../package-version.js';
import type { ChildMessage, EarlyStopDecision, StopReason, TrialRunRequest } from '../trial-ipc.js';

/** How a running trial talks to whoever started it (the job holder, over IPC). */
export interface TrialChannel {
  send(message: ChildMessage): void;
  /** A stop asked for since the trial started, if any; checked at every batch boundary. */
  stopRequested(): { reason: StopReason; message: string } | undefined;
  /**
   * The early-stopping decision after an epoch (asked only when the payload has a rule). The trial
   * waits for it, so a stopped trial's final weights are those of the epoch it was stopped at.
   * Without it, trials always go on.
   */
  decide?(epoch: number): Promise<EarlyStopDecision>;
}

/** Thrown at a batch boundary once a stop was asked for. */
export class StopRequested extends Error {
  constructor(
    readonly reason: StopReason,
    message: string,
  ) {
    super(message);
  }
}

/** What every stage of one trial shares: the request, the S3 client, and what is known so far. */
export interface TrialContext {
  readonly request: TrialRunRequest;
  readonly payload: TrialPayload;
  readonly channel: TrialChannel;
  readonly client: S3Client;
  /** The artifacts bucket. */
  readonly bucket: string;
  readonly keys: ReturnType<ReturnType<typeof runKeys>['trial']>;
  readonly startedAt: string;
  /** Metrics of every epoch checkpointed so far (restored ones included). */
  readonly history: EpochMetrics[];
  /** Grows as the stages learn the engine, the dataset and the resume point. */
  provenance: TrialRecord['provenance'];
  /** The epoch of the last complete checkpoint (0: none). */
  lastCheckpointEpoch: number;
  /** The trial's kept complete checkpoints, oldest first, with their trusted roots. */
  checkpoints: CheckpointRoot[];
  /** Recorded checkpoints that failed verification on resume, each naming the object. */
  readonly checkpointProblems: string[];
  /** Throws {@link StopRequested} when a stop was asked for. */
  checkStop(): void;
}

export function createTrialContext(request: TrialRunRequest, channel: TrialChannel): TrialContext {
  const { payload } = request;
  return {
    request,
    payload,
    channel,
    client: createS3Client(request.s3),
    bucket: payload.artifactsBucket,
    keys: runKeys(payload.sweepId).trial(payload.trialId),
    startedAt: new Date().toISOString(),
    history: [],
    provenance: {
      dataset: payload.dataset,
      seed: payload.training.seed,
      packageVersion: WORKER_PACKAGE_VERSION,
      workerId: request.workerId,
    },
    lastCheckpointEpoch: 0,
    checkpoints: [...(request.checkpointRoots ?? [])],
    checkpointProblems: [],
    checkStop() {
      const stop = channel.stopRequested();
      if (stop !== undefined) throw new StopRequested(stop.reason, stop.message);
    },
  };
}
