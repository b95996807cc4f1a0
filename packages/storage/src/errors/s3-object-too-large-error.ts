import { StorageError } from './storage-error.js';

/** An object is larger than its reader allows (e.g. a classes.json of 1 GB); it was not read. */
export class S3ObjectTooLargeError extends StorageError {
  readonly code = 'S3_OBJECT_TOO_LARGE' as const;

  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`s3://${bucket}/${key} is ${size} bytes; at most ${limit} are read`);
  }
}
