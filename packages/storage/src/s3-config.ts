import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { S3ConfigInvalidError } from './errors/s3-config-invalid-error.js';

/** When the SDK adds CRC checksums to requests / validates them on responses. */
export const CHECKSUM_MODES = ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] as const;
export type ChecksumMode = (typeof CHECKSUM_MODES)[number];

export const DEFAULT_S3_REGION = 'us-east-1';
/**
 * SDK >= 3.729 adds CRC32 checksums to every upload and validates them on downloads by default
 * ('WHEN_SUPPORTED'). Several S3-compatible servers reject the new headers (e.g. Cloudflare R2
 * answers 501, aws/aws-sdk-js-v3#6810), so the default here is the pre-3.729 behaviour, which AWS
 * accepts too. Integrity is still covered by the sha256 metadata this package writes and checks.
 * s3rver 3.7.1 accepts every request this package sends in both modes (tested).
 */
export const DEFAULT_CHECKSUM_MODE: ChecksumMode = 'WHEN_REQUIRED';
export const DEFAULT_S3_MAX_ATTEMPTS = 3;

/**
 * How to reach an S3-compatible store. Apps build this from their config.ts; the bucket is passed
 * separately to each call so one client can serve several buckets.
 */
export interface S3Config {
  /** Endpoint URL for S3-compatible servers (MinIO, s3rver), e.g. `http://127.0.0.1:9000`; omit for AWS. */
  readonly endpoint?: string;
  /** Region used for signing; default `us-east-1` (MinIO and s3rver accept any). */
  readonly region?: string;
  /**
   * Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`. MinIO and s3rver
   * need `true`; default: `true` when `endpoint` is set, else `false`.
   */
  readonly forcePathStyle?: boolean;
  /** Static credentials; omit both to use the SDK's default chain (env, profile, instance role). */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  /** See DEFAULT_CHECKSUM_MODE. Set 'WHEN_SUPPORTED' for AWS or a recent MinIO to get CRC checks. */
  readonly requestChecksumCalculation?: ChecksumMode;
  readonly responseChecksumValidation?: ChecksumMode;
  /** SDK attempts per request (first try included); default 3. */
  readonly maxAttempts?: number;
}

/** Builds the SDK client for `config`, checking the fields the SDK would only reject late. */
export function createS3Client(config: S3Config): S3Client {
  return new S3Client(toS3ClientConfig(config));
}

/** The SDK client config for `config` (exported for callers that build their own client). */
export function toS3ClientConfig(config: S3Config): S3ClientConfig {
  if (config.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(config.endpoint);
    } catch (cause) {
      throw new S3ConfigInvalidError(
        'endpoint',
        `${JSON.stringify(config.endpoint)} is not a URL`,
        {
          cause,
        },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new S3ConfigInvalidError(
        'endpoint',
        `protocol ${url.protocol} is not allowed; use one of http:, https:`,
      );
    }
  }
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    throw new S3ConfigInvalidError(
      config.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey',
      'accessKeyId and secretAccessKey must be given together (or both omitted)',
    );
  }
  for (const field of ['requestChecksumCalculation', 'responseChecksumValidation'] as const) {
    const value = config[field];
    if (value !== undefined && !(CHECKSUM_MODES as readonly string[]).includes(value)) {
      throw new S3ConfigInvalidError(
        field,
        `${JSON.stringify(value)} is not one of ${CHECKSUM_MODES.join(', ')}`,
      );
    }
  }
  const maxAttempts = config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new S3ConfigInvalidError('maxAttempts', `${maxAttempts} is not an integer >= 1`);
  }
  return {
    region: config.region ?? DEFAULT_S3_REGION,
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    maxAttempts,
    requestChecksumCalculation: config.requestChecksumCalculation ?? DEFAULT_CHECKSUM_MODE,
    responseChecksumValidation: config.responseChecksumValidation ?? DEFAULT_CHECKSUM_MODE,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey,
            ...(config.sessionToken !== undefined ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : {}),
  };
}
