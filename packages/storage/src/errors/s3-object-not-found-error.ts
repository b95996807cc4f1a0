import { StorageError } from './storage-error.js';

/** The object does not exist in an existing bucket. */
export class S3ObjectNotFoundError extends StorageError {
  readonly code = 'S3_OBJECT_NOT_FOUND' as const;

  constructor(
    readonly bucket: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`S3 object not found: s3://${bucket}/${key}`, options);
  }
}
