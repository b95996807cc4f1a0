import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { S3Client } from '@aws-sdk/client-s3';
import { formatS3Uri } from '@setrain/protocol';
import { downloadToFile } from '@setrain/storage';
import sharp from 'sharp';

import { errorMessage, WorkerError } from './worker-error.js';

/** An S3 object to cache, identified by its ETag (the cache key). */
export interface CacheRequest {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

/** What one {@link ImageCache.fill} did. */
export interface CacheFillReport {
  /** Objects fetched from S3 by this call. */
  readonly downloaded: number;
  /** Objects already in the cache. */
  readonly cached: number;
  readonly bytesDownloaded: number;
  /** Local file of each request, in request order. */
  readonly paths: string[];
}

/** Options of {@link ImageCache}. */
export interface ImageCacheOptions {
  /** Directory of the cache (created if missing); shared by every trial on the machine. */
  readonly dir: string;
  /** Downloads in flight at once. Default 8. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export const DEFAULT_CACHE_CONCURRENCY = 8;

/**
 * A local, content-addressed image cache. Files are named by a hash of the object's ETag and size,
 * so the same bytes under two keys are stored once, an overwritten object is fetched again, and a
 * second trial on the same machine downloads nothing. A file enters the cache only after it has
 * been fully downloaded and decoded once, so a corrupt image is reported (naming the object) before
 * training starts and is never cached.
 */
export class ImageCache {
  private readonly objectsDir: string;
  private readonly concurrency: number;

  constructor(
    private readonly client: S3Client,
    private readonly options: ImageCacheOptions,
  ) {
    this.objectsDir = join(options.dir, 'objects');
    this.concurrency = options.concurrency ?? DEFAULT_CACHE_CONCURRENCY;
  }

  /** Local path of an object's cached copy (present or not). */
  pathOf(request: Pick<CacheRequest, 'etag' | 'size'>): string {
    const name = createHash('sha256').update(`${request.etag}:${request.size}`).digest('hex');
    return join(this.objectsDir, name.slice(0, 2), name);
  }

  /** Makes every requested object present locally, downloading the missing ones. */
  async fill(requests: readonly CacheRequest[]): Promise<CacheFillReport> {
    await mkdir(this.objectsDir, { recursive: true });
    let downloaded = 0;
    let cached = 0;
    let bytesDownloaded = 0;
    const paths = requests.map((request) => this.pathOf(request));
    let next = 0;
    const work = async (): Promise<void> => {
      while (next < requests.length) {
        const index = next++;
        const request = requests[index] as CacheRequest;
        const path = paths[index] as string;
        if (await exists(path)) {
          cached += 1;
          continue;
        }
        await this.download(request, path);
        downloaded += 1;
        bytesDownloaded += request.size;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, requests.length) }, work));
    return { downloaded, cached, bytesDownloaded, paths };
  }

  private async download(request: CacheRequest, path: string): Promise<void> {
    const uri = formatS3Uri({ bucket: request.bucket, key: request.key });
    await mkdir(join(path, '..'), { recursive: true });
    const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await downloadToFile(this.client, request.bucket, request.key, temp, {
        ...(this.options.signal !== undefined ? { signal: this.options.signal } : {}),
      });
      try {
        // A full decode: header-only checks pass truncated files.
        await sharp(temp, { failOn: 'warning' }).raw().toBuffer();
      } catch (cause) {
        throw new WorkerError(
          'IMAGE_CORRUPT',
          `image ${uri} cannot be decoded: ${errorMessage(cause)}`,
          {
            cause,
          },
        );
      }
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
