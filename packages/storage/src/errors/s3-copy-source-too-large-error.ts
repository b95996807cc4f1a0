import { StorageError } from './storage-error.js';

/**
 * An object is larger than one CopyObject copies (5 GiB); nothing was copied. Larger objects need a
 * multipart copy (UploadPartCopy), which this package does not do.
 */
export class S3CopySourceTooLargeError extends StorageError {
  readonly code = 'S3_COPY_SOURCE_TOO_LARGE' as const;

  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`s3://${bucket}/${key} is ${size} bytes; one CopyObject copies at most ${limit} (5 GiB)`);
  }
}
