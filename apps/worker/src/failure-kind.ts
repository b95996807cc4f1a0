import { S3ServiceException } from '@aws-sdk/client-s3';
import { EngineError } from '@setrain/engine';
import {
  ChecksumMismatchError,
  ModelArtifactsInvalidError,
  S3ObjectJsonInvalidError,
  S3ObjectNotFoundError,
} from '@setrain/storage';

import { WorkerError, type WorkerErrorCode } from './worker-error.js';

/** Node socket error codes that mean the service could not be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);
/** Error names of the AWS SDK and ioredis for a service that did not answer. */
const UNREACHABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'NetworkingError',
  'MaxRetriesPerRequestError',
]);
/** ioredis messages for a connection it cannot use. */
const UNREACHABLE_MESSAGE =
  /Connection is closed|enableOfflineQueue|Stream isn't writeable|socket hang up|max retries per request/i;

function isUnreachable(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  if (UNREACHABLE_NAMES.has(error.name)) return true;
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    return status >= 500 || status === 429 || error.$retryable !== undefined;
  }
  return UNREACHABLE_MESSAGE.test(error.message);
}

/**
 * True when `error` (or an error it wraps) says Redis or S3 could not be reached or answered with a
 * server error: waiting may fix it, and the trial is not at fault.
 */
export function isInfrastructureError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof WorkerError) return e.code === 'INFRASTRUCTURE_UNAVAILABLE';
    if (isUnreachable(e)) return true;
    e = e.cause;
  }
  return false;
}

/**
 * The worker error code for errors other packages throw, when the code says more than
 * `UNEXPECTED`: engine failures, outages, corrupt and missing objects.
 */
export function workerCodeOf(error: unknown): WorkerErrorCode | undefined {
  if (error instanceof WorkerError) return error.code;
  if (error instanceof EngineError) return 'ENGINE_UNAVAILABLE';
  if (
    error instanceof ChecksumMismatchError ||
    error instanceof S3ObjectJsonInvalidError ||
    error instanceof ModelArtifactsInvalidError
  ) {
    return 'OBJECT_CORRUPT';
  }
  if (error instanceof S3ObjectNotFoundError) return 'OBJECT_MISSING';
  if (isInfrastructureError(error)) return 'INFRASTRUCTURE_UNAVAILABLE';
  return undefined;
}
