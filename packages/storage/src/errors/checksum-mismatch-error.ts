import { StorageError } from './storage-error.js';

/** Downloaded bytes do not hash to the sha256 recorded for them. */
export class ChecksumMismatchError extends StorageError {
  readonly code = 'CHECKSUM_MISMATCH' as const;

  constructor(
    readonly uri: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super(`sha256 mismatch for ${uri}: expected ${expectedSha256}, got ${actualSha256}`);
  }
}
