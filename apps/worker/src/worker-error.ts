/** Stable codes of the errors the worker raises; trial failures carry them in their messages. */
export const WORKER_ERROR_CODES = [
  'WORKER_CONFIG_INVALID',
  'TRIAL_PAYLOAD_INVALID',
  'DATASET_INVALID',
  'IMAGE_MISSING',
  'IMAGE_CORRUPT',
  'IMAGE_TOO_LARGE',
  'MODEL_CONFIG_INVALID',
  'TRIAL_DIVERGED',
  'TRIAL_CANCELLED',
  'TRIAL_PROCESS_CRASHED',
  /** Redis or S3 unreachable, a timeout or a 5xx: waited out, never counted against the trial. */
  'INFRASTRUCTURE_UNAVAILABLE',
  /** The engine cannot load or train on this worker: the worker's fault, not the trial's. */
  'ENGINE_UNAVAILABLE',
  /** An object failed its sha256 check or cannot be parsed: it would fail the same way again. */
  'OBJECT_CORRUPT',
  /** An object the trial needs does not exist. */
  'OBJECT_MISSING',
  /** The dataset or backbone weights lie outside the buckets this worker reads (SETRAIN_DATA_BUCKETS). */
  'DATA_BUCKET_NOT_ALLOWED',
  /** The trial's estimated memory is over the budget per trial (SETRAIN_MAX_TRIAL_MEMORY_BYTES). */
  'TRIAL_MEMORY_EXCEEDED',
  /** A graceful stop ran past SETRAIN_SHUTDOWN_TIMEOUT_SECONDS; the worker stopped by force. */
  'SHUTDOWN_TIMEOUT',
] as const;
export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[number];

/** Codes whose failures no retry can fix: the job fails at once (BullMQ UnrecoverableError). */
export const UNRECOVERABLE_CODES: ReadonlySet<WorkerErrorCode> = new Set([
  'TRIAL_PAYLOAD_INVALID',
  'DATASET_INVALID',
  'IMAGE_MISSING',
  'IMAGE_CORRUPT',
  'IMAGE_TOO_LARGE',
  'MODEL_CONFIG_INVALID',
  'TRIAL_DIVERGED',
  'TRIAL_CANCELLED',
  'OBJECT_CORRUPT',
  'OBJECT_MISSING',
  'DATA_BUCKET_NOT_ALLOWED',
  'TRIAL_MEMORY_EXCEEDED',
]);

export class WorkerError extends Error {
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WorkerError';
  }

  get unrecoverable(): boolean {
    return UNRECOVERABLE_CODES.has(this.code);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
