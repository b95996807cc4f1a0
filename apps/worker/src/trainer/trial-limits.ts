import {
  DEFAULT_MAX_TRIAL_MEMORY_BYTES,
  estimateTrialMemory,
  parseS3Uri,
  type TrialPayload,
} from '@setrain/protocol';
import { keySegmentProblem } from '@setrain/storage';

import { WorkerError } from '../worker-error.js';

/** The limits a worker re-checks on every trial before it trains (its own config, not the API's). */
export interface TrialLimits {
  /** Largest estimated memory of one trial (SETRAIN_MAX_TRIAL_MEMORY_BYTES). */
  readonly maxTrialMemoryBytes: number;
  /** Buckets datasets and backbone weights may be read from (SETRAIN_DATA_BUCKETS), besides the
   * payload's artifacts bucket, which the worker writes to anyway. */
  readonly dataBuckets: readonly string[];
}

/** The request's limits; without them (tests building requests by hand) the defaults: the
 * default memory budget, and datasets from the artifacts bucket only. */
export function limitsOf(request: { readonly limits?: TrialLimits | undefined }): TrialLimits {
  return request.limits ?? { maxTrialMemoryBytes: DEFAULT_MAX_TRIAL_MEMORY_BYTES, dataBuckets: [] };
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Fails with DATA_BUCKET_NOT_ALLOWED when the dataset or backbone weights lie outside the allowed
 * buckets or their key has an empty, `.` or `..` segment: a job can reach the queue without the
 * API's checks, and the worker reads with the service's credentials. Never retried.
 */
export function checkDataLocations(payload: TrialPayload, limits: TrialLimits): void {
  const allowed = [payload.artifactsBucket, ...limits.dataBuckets];
  const fields: [string, string | undefined][] = [
    ['dataset', payload.dataset],
    ['model.backboneWeights', payload.model.backboneWeights],
  ];
  for (const [field, uri] of fields) {
    if (uri === undefined) continue;
    const location = parseS3Uri(uri);
    if (location === undefined || !allowed.includes(location.bucket)) {
      throw new WorkerError(
        'DATA_BUCKET_NOT_ALLOWED',
        `${field} ${uri} is not in a bucket this worker reads from; allowed buckets: ${[...new Set(allowed)].join(', ')} (SETRAIN_DATA_BUCKETS)`,
      );
    }
    const problem = keySegmentProblem(location.key, 'the object key');
    if (problem !== undefined) {
      throw new WorkerError('DATA_BUCKET_NOT_ALLOWED', `${field} ${uri}: ${problem}`);
    }
  }
}

/**
 * Fails with TRIAL_MEMORY_EXCEEDED when the trial's estimated memory (packages/protocol
 * trial-memory.ts) is over the worker's budget. `numClasses` is the dataset's once it is known.
 * Never retried: the same trial would need the same memory again.
 */
export function checkTrialMemory(
  payload: TrialPayload,
  limits: TrialLimits,
  numClasses?: number,
): void {
  const { model, training } = payload;
  const estimate = estimateTrialMemory({
    inputSize: model.inputSize,
    seRatio: model.seRatio,
    sePlacement: model.sePlacement,
    batchSize: training.batchSize,
    optimizer: training.optimizer,
    momentum: training.momentum,
    numClasses,
  });
  if (estimate.totalBytes <= limits.maxTrialMemoryBytes) return;
  throw new WorkerError(
    'TRIAL_MEMORY_EXCEEDED',
    `this trial may need about ${gib(estimate.totalBytes)} (model.inputSize ${String(model.inputSize ?? 'default')}, training.batchSize ${training.batchSize}${numClasses === undefined ? '' : `, ${numClasses} classes`}), more than this worker's ${gib(limits.maxTrialMemoryBytes)} budget per trial (SETRAIN_MAX_TRIAL_MEMORY_BYTES); lower inputSize or batchSize`,
  );
}
