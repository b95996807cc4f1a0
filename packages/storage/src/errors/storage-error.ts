/** Stable machine-readable codes of every error this package throws. */
export const STORAGE_ERROR_CODES = [
  'S3_URI_INVALID',
  'S3_OBJECT_NOT_FOUND',
  'S3_OBJECT_TOO_LARGE',
  'S3_COPY_SOURCE_TOO_LARGE',
  'S3_BUCKET_NOT_FOUND',
  'S3_OBJECT_JSON_INVALID',
  'S3_CONFIG_INVALID',
  'CHECKSUM_MISMATCH',
  'DATASET_INVALID',
  'MODEL_ARTIFACTS_INVALID',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** Base class of this package's errors: callers switch on `code`, never on the message. */
export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
