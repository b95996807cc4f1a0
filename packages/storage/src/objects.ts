import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ChecksumMismatchError } from './errors/checksum-mismatch-error.js';
import { S3ObjectNotFoundError } from './errors/s3-object-not-found-error.js';
import { S3ObjectTooLargeError } from './errors/s3-object-too-large-error.js';
import { S3CopySourceTooLargeError } from './errors/s3-copy-source-too-large-error.js';
import { S3ObjectJsonInvalidError } from './errors/s3-object-json-invalid-error.js';
import { translateS3Error } from './s3-errors.js';
import { formatS3Uri } from '@setrain/protocol';
import { hashingTransform, isSha256Hex, sha256Hex, sha256HexOfFile } from './sha256.js';

/** User metadata key (`x-amz-meta-sha256`) holding the lowercase hex sha256 of an object's bytes. */
export const SHA256_METADATA_KEY = 'sha256';
/** Part size of multipart uploads. S3 requires at least 5 MiB for every part but the last. */
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/** Parts of one multipart upload in flight at once. */
export const DEFAULT_UPLOAD_QUEUE_SIZE = 4;
/** S3 lists at most 1000 keys per page and deletes at most 1000 keys per request. */
export const DEFAULT_LIST_PAGE_SIZE = 1000;
const MAX_DELETE_BATCH = 1000;
export const DEFAULT_PRESIGN_EXPIRES_SECONDS = 3600;
/** SigV4 presigned URLs live at most 7 days. */
export const MAX_PRESIGN_EXPIRES_SECONDS = 7 * 24 * 3600;

/** What HEAD (and GET) tell about an object. ETags are given without the quotes S3 puts around them. */
export interface ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly contentType?: string;
  readonly lastModified?: Date;
  /** User metadata, keys lowercased (S3 does that). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The `sha256` metadata entry when the uploader recorded one. */
  readonly sha256?: string;
}

export interface ObjectBytes extends ObjectInfo {
  readonly bytes: Uint8Array;
}

export interface ObjectText extends ObjectInfo {
  readonly text: string;
}

export interface ObjectJson<T> extends ObjectInfo {
  readonly value: T;
}

export interface RequestOptions {
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

export interface ReadLimitOptions extends RequestOptions {
  /** Refuse (S3ObjectTooLargeError) an object larger than this, before reading its body. */
  readonly maxBytes?: number;
}

export interface PutObjectOptions extends RequestOptions {
  readonly contentType?: string;
  /**
   * The body's sha256 (lowercase hex). Computed for byte/string bodies; for streams it can only be
   * stored as metadata when given here (headers go before the body), and is then verified after
   * the upload (a mismatch deletes the object and throws ChecksumMismatchError).
   */
  readonly sha256?: string;
  /** Extra user metadata; keys must be lowercase. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface UploadOptions extends PutObjectOptions {
  /** Multipart part size; bodies up to this size go in one PUT. Default 8 MiB, minimum 5 MiB. */
  readonly partSizeBytes?: number;
  /** Parts uploaded concurrently. Default 4. */
  readonly queueSize?: number;
  /** Called with the bytes sent so far. */
  readonly onProgress?: (loadedBytes: number) => void;
}

export interface PutObjectResult {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  /** sha256 of the bytes sent (always computed, stored as metadata when known up front). */
  readonly sha256: string;
}

export interface ObjectSummary {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified?: Date;
}

export interface ListObjectsOptions extends RequestOptions {
  /** Keys per ListObjectsV2 page (1-1000). Default 1000. */
  readonly pageSize?: number;
}

export interface DeletePrefixOptions extends RequestOptions {
  /** Deleting with an empty prefix empties the bucket; it must be asked for explicitly. */
  readonly allowEntireBucket?: boolean;
}

export interface PresignOptions {
  /** Lifetime of the URL; default 3600 s, at most 7 days. */
  readonly expiresInSeconds?: number;
  /** Makes browsers save the download under this name. */
  readonly downloadFileName?: string;
}

export interface DownloadOptions extends RequestOptions {
  /**
   * Verify the downloaded bytes against this sha256, or (when omitted) against the object's
   * `sha256` metadata if it has one. Default true.
   */
  readonly verifySha256?: boolean;
  readonly expectedSha256?: string;
}

export interface DownloadResult {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly etag: string;
  /** Whether the bytes were checked against a known sha256. */
  readonly verified: boolean;
}

/** Strips the double quotes S3 wraps ETags in. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

function toObjectInfo(
  bucket: string,
  key: string,
  output: Pick<
    GetObjectCommandOutput,
    'ETag' | 'ContentLength' | 'ContentType' | 'LastModified' | 'Metadata'
  >,
): ObjectInfo {
  const metadata = output.Metadata ?? {};
  const sha256 = metadata[SHA256_METADATA_KEY];
  return {
    bucket,
    key,
    etag: normalizeEtag(output.ETag),
    size: output.ContentLength ?? 0,
    metadata,
    ...(output.ContentType !== undefined ? { contentType: output.ContentType } : {}),
    ...(output.LastModified !== undefined ? { lastModified: output.LastModified } : {}),
    ...(sha256 !== undefined ? { sha256 } : {}),
  };
}

async function sendGetObject(
  client: S3Client,
  bucket: string,
  key: string,
  options: RequestOptions,
): Promise<GetObjectCommandOutput> {
  try {
    return await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key }),
      options.signal ? { abortSignal: options.signal } : {},
    );
  } catch (error) {
    throw translateS3Error(error, bucket, key);
  }
}

/** Reads a whole object into memory. Throws S3ObjectNotFoundError / S3BucketNotFoundError. */
export async function getObjectBytes(
  client: S3Client,
  bucket: string,
  key: string,
  options: ReadLimitOptions = {},
): Promise<ObjectBytes> {
  const output = await sendGetObject(client, bucket, key, options);
  if (output.Body === undefined) throw new S3ObjectNotFoundError(bucket, key);
  const limit = options.maxBytes;
  if (limit !== undefined && (output.ContentLength ?? 0) > limit) {
    // Closing the stream unread: the body may be gigabytes.
    if (output.Body instanceof Readable) output.Body.destroy();
    throw new S3ObjectTooLargeError(bucket, key, output.ContentLength ?? 0, limit);
  }
  const bytes = await output.Body.transformToByteArray();
  if (limit !== undefined && bytes.byteLength > limit) {
    throw new S3ObjectTooLargeError(bucket, key, bytes.byteLength, limit);
  }
  return { ...toObjectInfo(bucket, key, output), size: bytes.byteLength, bytes };
}

/** Reads a whole object as UTF-8 text. */
export async function getObjectText(
  client: S3Client,
  bucket: string,
  key: string,
  options: ReadLimitOptions = {},
): Promise<ObjectText> {
  const { bytes, ...info } = await getObjectBytes(client, bucket, key, options);
  return { ...info, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
}

export interface GetJsonOptions<T> extends RequestOptions {
  /** Validates the parsed value (e.g. a zod schema's `parse`); its errors propagate. */
  readonly parse?: (value: unknown) => T;
}

/** Reads and parses a JSON object, with its ETag; `options.parse` validates the value. */
export async function getJson<T = unknown>(
  client: S3Client,
  bucket: string,
  key: string,
  options: GetJsonOptions<T> = {},
): Promise<ObjectJson<T>> {
  const { text, ...info } = await getObjectText(client, bucket, key, options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new S3ObjectJsonInvalidError(formatS3Uri({ bucket, key }), { cause });
  }
  // Without a parser the caller asked for T = unknown (the default) or takes the cast on itself.
  const value = options.parse ? options.parse(parsed) : (parsed as T);
  return { ...info, value };
}

/** HEAD: the object's size, ETag and metadata, or undefined when it does not exist. */
export async function headObject(
  client: S3Client,
  bucket: string,
  key: string,
  options: RequestOptions = {},
): Promise<ObjectInfo | undefined> {
  try {
    const output = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key }),
      options.signal ? { abortSignal: options.signal } : {},
    );
    return toObjectInfo(bucket, key, output);
  } catch (error) {
    const translated = translateS3Error(error, bucket, key);
    if (translated instanceof S3ObjectNotFoundError) return undefined;
    throw translated;
  }
}

/** The largest object one CopyObject copies (S3's limit: 5 GiB). */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;

export interface CopyObjectOptions extends RequestOptions {
  /** The source's size when the caller knows it; otherwise a HEAD asks the server first. */
  readonly sourceBytes?: number;
}

/**
 * Server-side copy within a bucket (CopyObject): bytes and metadata (the sha256 included) stay as
 * they are and pass through no process. A source above MAX_COPY_OBJECT_BYTES is refused here
 * (S3CopySourceTooLargeError) before any copy is sent, with its size and the limit named.
 */
export async function copyObject(
  client: S3Client,
  bucket: string,
  sourceKey: string,
  destinationKey: string,
  options: CopyObjectOptions = {},
): Promise<void> {
  const size = options.sourceBytes ?? (await headObject(client, bucket, sourceKey, options))?.size;
  if (size === undefined) throw new S3ObjectNotFoundError(bucket, sourceKey);
  if (size > MAX_COPY_OBJECT_BYTES) {
    throw new S3CopySourceTooLargeError(bucket, sourceKey, size, MAX_COPY_OBJECT_BYTES);
  }
  const source = `${bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
  try {
    await client.send(
      new CopyObjectCommand({ Bucket: bucket, Key: destinationKey, CopySource: source }),
      options.signal ? { abortSignal: options.signal } : {},
    );
  } catch (error) {
    throw translateS3Error(error, bucket, sourceKey);
  }
}

function checkSha256Option(sha256: string | undefined): void {
  if (sha256 !== undefined && !isSha256Hex(sha256)) {
    throw new TypeError(`sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
  }
}

/**
 * Uploads bytes, a string (UTF-8) or a stream. Bytes and strings go in one PUT with their sha256
 * as metadata; streams go through uploadLarge (multipart when larger than one part).
 */
export async function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string | Readable,
  options: PutObjectOptions = {},
): Promise<PutObjectResult> {
  if (body instanceof Readable) return uploadLarge(client, bucket, key, body, options);
  checkSha256Option(options.sha256);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const sha256 = sha256Hex(bytes);
  if (options.sha256 !== undefined && options.sha256 !== sha256) {
    throw new ChecksumMismatchError(formatS3Uri({ bucket, key }), options.sha256, sha256);
  }
  try {
    const output = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.byteLength,
        ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
        Metadata: { ...options.metadata, [SHA256_METADATA_KEY]: sha256 },
      }),
      options.signal ? { abortSignal: options.signal } : {},
    );
    return { bucket, key, etag: normalizeEtag(output.ETag), size: bytes.byteLength, sha256 };
  } catch (error) {
    throw translateS3Error(error, bucket, key);
  }
}

/**
 * Uploads with @aws-sdk/lib-storage: one PUT up to `partSizeBytes`, multipart above (parts of
 * `partSizeBytes`, `queueSize` at a time, aborted on failure). Streams are hashed on the way.
 */
export async function uploadLarge(
  client: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | Readable,
  options: UploadOptions = {},
): Promise<PutObjectResult> {
  checkSha256Option(options.sha256);
  const partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE_BYTES) {
    throw new RangeError(
      `partSizeBytes must be an integer >= ${MIN_PART_SIZE_BYTES} (5 MiB), got ${partSize}`,
    );
  }
  const uri = formatS3Uri({ bucket, key });
  let knownSha256 = options.sha256;
  const hasher = hashingTransform();
  let uploadBody: Uint8Array | Readable;
  if (body instanceof Readable) {
    // Errors of the source destroy the hasher, which fails the upload.
    body.once('error', (error) => hasher.stream.destroy(error));
    uploadBody = body.pipe(hasher.stream);
  } else {
    const computed = sha256Hex(body);
    if (knownSha256 !== undefined && knownSha256 !== computed) {
      throw new ChecksumMismatchError(uri, knownSha256, computed);
    }
    knownSha256 = computed;
    uploadBody = body;
  }
  const upload = new Upload({
    client,
    partSize,
    queueSize: options.queueSize ?? DEFAULT_UPLOAD_QUEUE_SIZE,
    leavePartsOnError: false,
    params: {
      Bucket: bucket,
      Key: key,
      Body: uploadBody,
      ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
      Metadata: {
        ...options.metadata,
        ...(knownSha256 !== undefined ? { [SHA256_METADATA_KEY]: knownSha256 } : {}),
      },
    },
  });
  const onAbort = (): void => void upload.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.onProgress) {
    const onProgress = options.onProgress;
    upload.on('httpUploadProgress', (progress) => {
      onProgress(progress.loaded ?? 0);
    });
  }
  let etag: string;
  try {
    const output = await upload.done();
    etag = normalizeEtag(output.ETag);
  } catch (error) {
    throw translateS3Error(error, bucket, key);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const sha256 = body instanceof Readable ? hasher.digest() : (knownSha256 ?? '');
  if (knownSha256 !== undefined && knownSha256 !== sha256) {
    await deleteObjectQuietly(client, bucket, key);
    throw new ChecksumMismatchError(uri, knownSha256, sha256);
  }
  const size = body instanceof Readable ? hasher.size() : body.byteLength;
  return { bucket, key, etag, size, sha256 };
}

/** Uploads a local file (hashed first, so its sha256 lands in the metadata), multipart if large. */
export async function uploadFile(
  client: S3Client,
  bucket: string,
  key: string,
  path: string,
  options: UploadOptions = {},
): Promise<PutObjectResult> {
  await stat(path); // fail with ENOENT naming the path before hashing
  const sha256 = await sha256HexOfFile(path);
  return uploadLarge(client, bucket, key, createReadStream(path), { ...options, sha256 });
}

async function deleteObjectQuietly(client: S3Client, bucket: string, key: string): Promise<void> {
  try {
    await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key }] } }),
    );
  } catch {
    // Best effort: the caller is already failing with a more useful error.
  }
}

/** Every object under `prefix`, page by page (ListObjectsV2), in key order. */
export async function* listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: ListObjectsOptions = {},
): AsyncGenerator<ObjectSummary> {
  const pageSize = options.pageSize ?? DEFAULT_LIST_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > DEFAULT_LIST_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer in 1..1000, got ${pageSize}`);
  }
  let continuationToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          MaxKeys: pageSize,
          ...(continuationToken !== undefined ? { ContinuationToken: continuationToken } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
    } catch (error) {
      throw translateS3Error(error, bucket, prefix);
    }
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      yield {
        key: object.Key,
        size: object.Size ?? 0,
        etag: normalizeEtag(object.ETag),
        ...(object.LastModified !== undefined ? { lastModified: object.LastModified } : {}),
      };
    }
    continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
}

/** All keys under `prefix`, collected. */
export async function listKeys(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: ListObjectsOptions = {},
): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(client, bucket, prefix, options)) keys.push(object.key);
  return keys;
}

/** Deletes every object under `prefix` (batches of 1000); returns how many were deleted. */
export async function deletePrefix(
  client: S3Client,
  bucket: string,
  prefix: string,
  options: DeletePrefixOptions = {},
): Promise<number> {
  if (prefix === '' && options.allowEntireBucket !== true) {
    throw new RangeError(
      `refusing to delete everything in bucket ${bucket}: pass allowEntireBucket: true to do that`,
    );
  }
  let deleted = 0;
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const output = await client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true },
      }),
      options.signal ? { abortSignal: options.signal } : {},
    );
    const failed = output.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      throw new Error(
        `could not delete ${failed.length} object(s) under s3://${bucket}/${prefix}, first: ${first?.Key ?? '?'}: ${first?.Code ?? '?'} ${first?.Message ?? ''}`,
      );
    }
    deleted += batch.length;
    batch = [];
  };
  // Collect first: deleting while paginating can make S3 skip keys.
  const keys = await listKeys(client, bucket, prefix, options);
  for (const key of keys) {
    batch.push(key);
    if (batch.length === MAX_DELETE_BATCH) await flush();
  }
  await flush();
  return deleted;
}

/** A presigned GET URL for the object (does not check that it exists). */
export async function presignGetUrl(
  client: S3Client,
  bucket: string,
  key: string,
  options: PresignOptions = {},
): Promise<string> {
  const expiresIn = options.expiresInSeconds ?? DEFAULT_PRESIGN_EXPIRES_SECONDS;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw new RangeError(
      `expiresInSeconds must be an integer in 1..${MAX_PRESIGN_EXPIRES_SECONDS} (7 days), got ${expiresIn}`,
    );
  }
  const command = new GetObjectCommand({
    Bucket: bucket,
    Key: key,
    ...(options.downloadFileName !== undefined
      ? {
          ResponseContentDisposition: `attachment; filename="${options.downloadFileName.replace(/["\\]/g, '_')}"`,
        }
      : {}),
  });
  return getSignedUrl(client, command, { expiresIn });
}

/** Bytes read by {@link downloadVerifiedBytes}, with their actual sha256. */
export interface VerifiedBytes {
  readonly bytes: Uint8Array;
  readonly size: number;
  /** sha256 of `bytes` (computed, whether or not it was checked). */
  readonly sha256: string;
  readonly etag: string;
  /** Whether the bytes were checked against a known sha256. */
  readonly verified: boolean;
}

/** The sha256 a download is checked against, if any (see {@link DownloadOptions}). */
function expectedSha256Of(options: DownloadOptions, info: ObjectInfo): string | undefined {
  return options.verifySha256 === false ? undefined : (options.expectedSha256 ?? info.sha256);
}

/**
 * Reads a whole object into memory and hashes it, checked like {@link downloadToFile} (a mismatch
 * throws ChecksumMismatchError): for objects small enough to hold, one buffer instead of a stream
 * through a hasher into a file.
 */
export async function downloadVerifiedBytes(
  client: S3Client,
  bucket: string,
  key: string,
  options: DownloadOptions & ReadLimitOptions = {},
): Promise<VerifiedBytes> {
  checkSha256Option(options.expectedSha256);
  const { bytes, ...info } = await getObjectBytes(client, bucket, key, options);
  const sha256 = sha256Hex(bytes);
  const expected = expectedSha256Of(options, info);
  if (expected !== undefined && expected !== sha256) {
    throw new ChecksumMismatchError(formatS3Uri({ bucket, key }), expected, sha256);
  }
  return {
    bytes,
    size: bytes.byteLength,
    sha256,
    etag: info.etag,
    verified: expected !== undefined,
  };
}

/**
 * Streams an object to `path` (via `path.partial`, renamed when complete and verified), hashing on
 * the way. With verification on, a mismatch removes the partial file and throws ChecksumMismatchError.
 */
export async function downloadToFile(
  client: S3Client,
  bucket: string,
  key: string,
  path: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  checkSha256Option(options.expectedSha256);
  const output = await sendGetObject(client, bucket, key, options);
  const body = output.Body;
  if (!(body instanceof Readable)) {
    throw new TypeError(`GetObject for ${formatS3Uri({ bucket, key })} returned no Node stream`);
  }
  const info = toObjectInfo(bucket, key, output);
  const partialPath = `${path}.partial`;
  const hasher = hashingTransform();
  try {
    const file = createWriteStream(partialPath);
    await once(file, 'open');
    await pipeline(body, hasher.stream, file, options.signal ? { signal: options.signal } : {});
    const sha256 = hasher.digest();
    const size = hasher.size();
    const expected = expectedSha256Of(options, info);
    if (expected !== undefined && expected !== sha256) {
      throw new ChecksumMismatchError(formatS3Uri({ bucket, key }), expected, sha256);
    }
    await rename(partialPath, path);
    return { path, size, sha256, etag: info.etag, verified: expected !== undefined };
  } catch (error) {
    body.destroy(); // release the connection when the file could not be opened
    await rm(partialPath, { force: true });
    throw error;
  }
}
