import { type S3Location } from '@setrain/protocol';
import { S3UriInvalidError } from './errors/s3-uri-invalid-error.js';

export const S3_URI_SCHEME = 's3://';
/** S3's rule for new buckets: 3-63 chars of lowercase letters, digits, dots and hyphens. */
const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface ParseS3UriOptions {
  /** Accept `s3://bucket` and `s3://bucket/` (key '') for prefixes. Default false. */
  readonly allowEmptyKey?: boolean;
}

/**
 * Parses `s3://bucket/key`, throwing S3UriInvalidError that says what is wrong. (Protocol's
 * `parseS3Uri` returns undefined instead, for callers that word their own error.)
 */
export function parseS3UriOrThrow(uri: string, options: ParseS3UriOptions = {}): S3Location {
  if (!uri.startsWith(S3_URI_SCHEME)) {
    throw new S3UriInvalidError(uri, `it does not start with ${S3_URI_SCHEME}`);
  }
  const rest = uri.slice(S3_URI_SCHEME.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  assertBucketName(bucket, uri);
  if (key === '' && options.allowEmptyKey !== true) {
    throw new S3UriInvalidError(uri, 'the object key is empty');
  }
  return { bucket, key };
}

/** Throws S3UriInvalidError unless `bucket` is a valid (DNS-style) bucket name. */
export function assertBucketName(bucket: string, uri = `${S3_URI_SCHEME}${bucket}`): void {
  if (bucket.length === 0) throw new S3UriInvalidError(uri, 'the bucket name is empty');
  if (!BUCKET_NAME_PATTERN.test(bucket) || bucket.includes('..')) {
    throw new S3UriInvalidError(
      uri,
      `bucket ${JSON.stringify(bucket)} is not a valid bucket name (3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit)`,
    );
  }
}

/**
 * Why `key` is not a normal object key: an empty, `.` or `..` segment (`a//b`, `a/./b`, `a/../b`),
 * which some S3 implementations and proxies resolve and others keep. Undefined when it is normal.
 * `what` names the key in the message; the key itself is not repeated.
 */
export function keySegmentProblem(key: string, what = 'the key'): string | undefined {
  const bad = key
    .split('/')
    .find((segment) => segment === '..' || segment === '.' || segment === '');
  if (bad === undefined) return undefined;
  return `${what} has ${bad === '' ? 'an empty' : `a '${bad}'`} path segment; keys must be normalised`;
}

/**
 * Joins key segments with single slashes: `joinKey('runs/', '/a', 'b.json')` is `runs/a/b.json`.
 * Empty segments are dropped, so `joinKey('', 'x')` is `x`.
 */
export function joinKey(...segments: readonly string[]): string {
  return segments
    .map((segment) => segment.replace(/^\/+|\/+$/g, ''))
    .filter((segment) => segment.length > 0)
    .join('/');
}
