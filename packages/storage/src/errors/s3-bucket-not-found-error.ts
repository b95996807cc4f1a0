import { StorageError } from './storage-error.js';

/** The bucket itself does not exist (or is not visible to these credentials). */
export class S3BucketNotFoundError extends StorageError {
  readonly code = 'S3_BUCKET_NOT_FOUND' as const;

  constructor(
    readonly bucket: string,
    options?: ErrorOptions,
  ) {
    super(`S3 bucket not found: ${bucket}`, options);
  }
}
