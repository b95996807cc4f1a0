import { StorageError } from './storage-error.js';

/** An S3Config field has a value the client cannot use. */
export class S3ConfigInvalidError extends StorageError {
  readonly code = 'S3_CONFIG_INVALID' as const;

  constructor(
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`invalid S3 config field ${field}: ${message}`, options);
  }
}
