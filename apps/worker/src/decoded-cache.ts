import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { mapWithConcurrency } from '@setrain/protocol';

import { evictToBudget, touchCached } from './cache-budget.js';

/** Options of {@link DecodedImageCache}. */
export interface DecodedImageCacheOptions {
  /** Directory of the packed files (created if missing); shared by every trial on the machine. */
  readonly dir: string;
  /** Byte budget of the packed files; the least recently used go first. Default 20 GiB. */
  readonly maxBytes?: number;
  /** Images decoded at once while a packed file is built. Default 4. */
  readonly concurrency?: number;
}

/** Which images a packed file holds and at what size. */
export interface DecodedSetKey {
  /** Identity of each image, in order (e.g. its object's bucket, key, ETag and size). */
  readonly images: readonly string[];
  /** Side of the square RGB images. */
  readonly size: number;
}

export const DEFAULT_DECODED_CACHE_MAX_BYTES = 20 * 1024 ** 3;
export const DEFAULT_DECODE_CONCURRENCY = 4;

/** Bumped whenever decoding changes what it produces, so older packed files are never read. */
const FORMAT_VERSION = 1;

/** Decodes image `index` of a set to `size` x `size` x 3 bytes. */
export type DecodeImage = (index: number) => Promise<Uint8Array>;

/**
 * Decoded, resized images shared by every trial on the machine: one packed file per (image set,
 * size) holding each image's `size * size * 3` RGB bytes at `index * size * size * 3`. The first
 * trial that needs a set builds its file (decoding each image once) and renames it into place; every
 * later epoch and trial reads pixels with plain positional reads and decodes nothing. The files stay
 * under a byte budget (least recently used evicted first); a trial keeps its file open, so an
 * eviction by another trial never pulls pixels from under it.
 */
export class DecodedImageCache {
  private readonly maxBytes: number;
  private readonly concurrency: number;

  constructor(private readonly options: DecodedImageCacheOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_DECODED_CACHE_MAX_BYTES;
    this.concurrency = options.concurrency ?? DEFAULT_DECODE_CONCURRENCY;
  }

  /** Path of a set's packed file (present or not). */
  pathOf(key: DecodedSetKey): string {
    const name = createHash('sha256')
      .update(JSON.stringify([FORMAT_VERSION, key.size, key.images]))
      .digest('hex');
    return join(this.options.dir, `${name}-${key.size}.rgb`);
  }

  /**
   * Opens a set's packed file, building it with `decode` first when it is missing (or not of the
   * expected length). `built` says whether this call decoded anything.
   */
  async open(key: DecodedSetKey, decode: DecodeImage): Promise<DecodedImages> {
    const path = this.pathOf(key);
    const imageBytes = key.size * key.size * 3;
    const expected = imageBytes * key.images.length;
    const existing = await openIfComplete(path, expected);
    if (existing !== undefined) {
      await touchCached(path);
      return new DecodedImages(existing, key.images.length, key.size, false);
    }
    await mkdir(this.options.dir, { recursive: true });
    const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const handle = await open(temp, 'w+');
    try {
      await mapWithConcurrency(key.images, this.concurrency, async (_image, index) => {
        const pixels = await decode(index);
        if (pixels.byteLength !== imageBytes) {
          throw new Error(
            `image ${index} decoded to ${pixels.byteLength} bytes, not ${imageBytes}`,
          );
        }
        await handle.write(pixels, 0, imageBytes, index * imageBytes);
      });
      await rename(temp, path);
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    // Evicted before this trial reads: the new file is the most recently used, and stays open.
    await evictToBudget(this.options.dir, this.maxBytes);
    return new DecodedImages(handle, key.images.length, key.size, true);
  }
}

/** An open packed file of decoded images. */
export class DecodedImages {
  private readonly imageBytes: number;

  constructor(
    private readonly handle: FileHandle,
    readonly count: number,
    readonly size: number,
    /** Whether opening it decoded the images (false: served from the cache). */
    readonly built: boolean,
  ) {
    this.imageBytes = size * size * 3;
  }

  /** Image `index`'s `size * size * 3` RGB bytes. */
  async read(index: number): Promise<Uint8Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`image index ${index} is outside 0..${this.count - 1}`);
    }
    const out = new Uint8Array(this.imageBytes);
    const { bytesRead } = await this.handle.read(out, 0, this.imageBytes, index * this.imageBytes);
    if (bytesRead !== this.imageBytes) {
      throw new Error(
        `decoded image ${index} is truncated (${bytesRead} of ${this.imageBytes} bytes)`,
      );
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function openIfComplete(
  path: string,
  expectedBytes: number,
): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  if ((await handle.stat()).size === expectedBytes) return handle;
  await handle.close();
  return undefined;
}
