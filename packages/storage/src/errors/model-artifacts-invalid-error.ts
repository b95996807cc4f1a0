import { StorageError } from './storage-error.js';

/** model.json in S3 is not a tfjs model (or lacks what a save/load needs). */
export class ModelArtifactsInvalidError extends StorageError {
  readonly code = 'MODEL_ARTIFACTS_INVALID' as const;

  constructor(
    readonly uri: string,
    reason: string,
  ) {
    super(`invalid tfjs model artifacts at ${uri}: ${reason}`);
  }
}
