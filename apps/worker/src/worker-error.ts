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
