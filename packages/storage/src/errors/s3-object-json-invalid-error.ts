import { StorageError } from './storage-error.js';

/** An object read as JSON does not parse. */
export class S3ObjectJsonInvalidError extends StorageError {
  readonly code = 'S3_OBJECT_JSON_INVALID' as const;

  constructor(
    readonly uri: string,
    options: { cause: unknown },
  ) {
    super(
      `${uri} is not valid JSON: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`,
      options,
    );
  }
}
