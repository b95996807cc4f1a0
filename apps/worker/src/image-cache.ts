import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { S3Client } from '@aws-sdk/client-s3';
import { formatS3Uri } from '@setrain/protocol';
import {
  downloadToFile,
  downloadVerifiedBytes,
  isSha256Hex,
  S3ObjectTooLargeError,
} from '@setrain/storage';

import { evictToBudget, touchCached, type EvictionReport } from './cache-budget.js';
import { checkImageBytes, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './image-decode.js';

/** An S3 object to cache, as listed (its ETag only finds a known object's content hash). */
export interface CacheRequest {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

/** One object made present by {@link ImageCache.get}. */
export interface CachedImage {
  /** Local file holding the object's bytes. */
  readonly path: string;
  /** sha256 of the bytes: the file's name in the cache. */
  readonly sha256: string;
  /** Whether this call fetched it from S3. */
  readonly downloaded: boolean;
  /** The bytes, when this call fetched them into memory (decode these rather than the file). */
  readonly bytes?: Uint8Array;
}

/** Options of {@link ImageCache}. */
export interface ImageCacheOptions {
  /** Directory of the cache (created if missing); shared by every trial on the machine. */
  readonly dir: string;
  /** Byte budget of the cached images; the least recently used go first. Default 10 GiB. */
  readonly maxBytes?: number;
  /** Objects over `limits.maxBytes` fail before they are downloaded. */
  readonly limits?: ImageLimits;
  /**
   * Objects up to this size are read into memory, hashed and written with one call (and handed to
   * the decoder as bytes); larger ones stream through a hasher into their file. Default 16 MiB.
   */
  readonly inMemoryMaxBytes?: number;
  readonly signal?: AbortSignal;
}

export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;
/** A dataset image is usually tens of kilobytes: for those, streaming into a file through a hasher
 * cost more than the download itself (bench:data's cold epoch). */
export const DEFAULT_IN_MEMORY_MAX_BYTES = 16 * 1024 ** 2;

/**
 * A local, content-addressed, bounded image cache shared by every trial on the machine. A file is
 * named by the sha256 of its bytes (computed while downloading and checked against the object's
 * `sha256` metadata when it has one), so the same bytes under two keys are stored once. A small
 * index maps an object's bucket, key, ETag and size to that hash, so a second trial finds its
 * images without asking S3, and an overwritten object (new ETag) is fetched again. Cached bytes stay
 * under `maxBytes`: after downloads, the least recently used files are evicted.
 */
export class ImageCache {
  private readonly objectsDir: string;
  private readonly indexDir: string;
  private readonly maxBytes: number;
  private readonly limits: ImageLimits;
  /** Bytes downloaded since the last eviction pass. */
  private pendingBytes = 0;
  /** Directories this instance has created (eviction removes files, never directories). */
  private readonly madeDirs = new Set<string>();

  constructor(
    private readonly client: S3Client,
    private readonly options: ImageCacheOptions,
  ) {
    this.objectsDir = join(options.dir, 'objects');
    this.indexDir = join(options.dir, 'index');
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.limits = options.limits ?? DEFAULT_IMAGE_LIMITS;
  }

  /** Local path of the content with this sha256 (present or not). */
  pathOf(sha256: string): string {
    return join(this.objectsDir, sha256.slice(0, 2), sha256);
  }

  /**
   * Makes one object present locally (downloading it when its content is not cached) and marks it
   * as just used. Objects over the byte limit fail with IMAGE_TOO_LARGE before any download.
   */
  async get(request: CacheRequest): Promise<CachedImage> {
    const uri = formatS3Uri({ bucket: request.bucket, key: request.key });
    checkImageBytes(request.size, uri, this.limits);
    const indexPath = this.indexPathOf(request);
    const known = await readFile(indexPath, 'utf8').catch(() => undefined);
    if (known !== undefined && isSha256Hex(known) && (await isFile(this.pathOf(known)))) {
      await touchCached(this.pathOf(known));
      return { path: this.pathOf(known), sha256: known, downloaded: false };
    }
    const inMemory = request.size <= (this.options.inMemoryMaxBytes ?? DEFAULT_IN_MEMORY_MAX_BYTES);
    const fetched = inMemory
      ? await this.downloadToMemory(request, uri)
      : { sha256: await this.download(request, uri) };
    await this.mkdirOnce(join(indexPath, '..'));
    await writeAtomically(indexPath, fetched.sha256);
    this.pendingBytes += request.size;
    // Evicting as downloads go keeps the cache bounded even while one dataset larger than the
    // budget streams through it (images are decoded as soon as they land).
    if (this.pendingBytes > this.maxBytes / 10) await this.evict();
    return { path: this.pathOf(fetched.sha256), downloaded: true, ...fetched };
  }

  /** Evicts the least recently used images until the cache is within its budget. */
  async evict(): Promise<EvictionReport> {
    this.pendingBytes = 0;
    return evictToBudget(this.objectsDir, this.maxBytes);
  }

  private indexPathOf(request: CacheRequest): string {
    const name = createHash('sha256')
      .update(JSON.stringify([request.bucket, request.key, request.etag, request.size]))
      .digest('hex');
    return join(this.indexDir, name.slice(0, 2), name);
  }

  /** Creates a directory of the cache once per instance (a trial creates a few hundred at most). */
  private async mkdirOnce(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /** Reads, hashes (and verifies) the object in memory, then writes its file atomically. */
  private async downloadToMemory(
    request: CacheRequest,
    uri: string,
  ): Promise<{ sha256: string; bytes: Uint8Array }> {
    const result = await downloadVerifiedBytes(this.client, request.bucket, request.key, {
      // The object may have grown since it was listed: refused before its body is read.
      maxBytes: this.limits.maxBytes,
      ...(this.options.signal !== undefined ? { signal: this.options.signal } : {}),
    }).catch((error: unknown) => {
      if (error instanceof S3ObjectTooLargeError) checkImageBytes(error.size, uri, this.limits);
      throw error;
    });
    const path = this.pathOf(result.sha256);
    await this.mkdirOnce(join(path, '..'));
    await writeAtomically(path, result.bytes);
    return { sha256: result.sha256, bytes: result.bytes };
  }

  private async download(request: CacheRequest, uri: string): Promise<string> {
    const temp = join(
      this.objectsDir,
      `${process.pid}.${Math.random().toString(36).slice(2)}.download.tmp`,
    );
    await this.mkdirOnce(this.objectsDir);
    try {
      const result = await downloadToFile(this.client, request.bucket, request.key, temp, {
        ...(this.options.signal !== undefined ? { signal: this.options.signal } : {}),
      });
      // The object may have grown since it was listed.
      checkImageBytes(result.size, uri, this.limits);
      const path = this.pathOf(result.sha256);
      await this.mkdirOnce(join(path, '..'));
      await rename(temp, path);
      return result.sha256;
    } finally {
      await rm(temp, { force: true });
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Writes a file under a temporary name, then renames it into place; a failed write (a full disk)
 * leaves no temporary file behind (eviction never counts or removes `.tmp` files). */
async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
