import { S3ServiceException } from '@aws-sdk/client-s3';
import { S3BucketNotFoundError } from './errors/s3-bucket-not-found-error.js';
import { S3ObjectNotFoundError } from './errors/s3-object-not-found-error.js';

const OBJECT_MISSING_NAMES = new Set(['NoSuchKey', 'NotFound']);

/**
 * Turns the SDK's "not there" answers into this package's typed errors; anything else is returned
 * unchanged. HEAD answers a bare 404 for a missing bucket too, so that reads as a missing object.
 */
export function translateS3Error(error: unknown, bucket: string, key: string): unknown {
  if (!(error instanceof S3ServiceException)) return error;
  if (error.name === 'NoSuchBucket') return new S3BucketNotFoundError(bucket, { cause: error });
  if (OBJECT_MISSING_NAMES.has(error.name) || error.$metadata.httpStatusCode === 404) {
    return new S3ObjectNotFoundError(bucket, key, { cause: error });
  }
  return error;
}
