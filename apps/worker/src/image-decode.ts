import sharp from 'sharp';

import { errorMessage, WorkerError } from './worker-error.js';

/** Bounds on what one dataset image may cost to fetch and decode. */
export interface ImageLimits {
  /** Largest width x height read from an image's header; larger images fail before decoding. */
  readonly maxPixels: number;
  /** Largest object size in bytes; larger objects fail before downloading. */
  readonly maxBytes: number;
}

/** 40 megapixels (a 7,300 x 5,500 photo): a full RGBA decode of it is at most 160 MB. */
export const DEFAULT_IMAGE_MAX_PIXELS = 40_000_000;
/** 32 MiB: far above any photo a classifier trains on, far below what fills a worker's disk. */
export const DEFAULT_IMAGE_MAX_BYTES = 32 * 1024 * 1024;

export const DEFAULT_IMAGE_LIMITS: ImageLimits = Object.freeze({
  maxPixels: DEFAULT_IMAGE_MAX_PIXELS,
  maxBytes: DEFAULT_IMAGE_MAX_BYTES,
});

// libvips' operation cache keeps decoded images of recently opened files: every image is decoded
// once per trial here, so it would only hold memory.
sharp.cache(false);

/** Fails with IMAGE_TOO_LARGE when an object is over the byte limit (checked before downloading). */
export function checkImageBytes(size: number, uri: string, limits: ImageLimits): void {
  if (size > limits.maxBytes) {
    throw new WorkerError(
      'IMAGE_TOO_LARGE',
      `image ${uri} is ${size} bytes, over the limit of ${limits.maxBytes} (SETRAIN_IMAGE_MAX_BYTES); shrink or remove it from the manifest`,
    );
  }
}

/**
 * Decodes an image (a file's path, or its bytes) to `size` x `size` RGB bytes (aspect ratio not
 * kept: the model is square).
 * The dimensions are read from the header first and checked against `limits.maxPixels`, so a
 * decompression bomb (a small file declaring a huge image) fails before any pixel is decoded; JPEG
 * and WebP are then shrunk while they load, straight towards the target size.
 */
export async function decodeImage(
  input: string | Uint8Array,
  size: number,
  uri: string,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<Uint8Array> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(input, { limitInputPixels: false }).metadata());
  } catch (cause) {
    throw corrupt(uri, cause);
  }
  if (width === undefined || height === undefined) {
    throw corrupt(uri, new Error('its header has no dimensions'));
  }
  if (width * height > limits.maxPixels) {
    throw new WorkerError(
      'IMAGE_TOO_LARGE',
      `image ${uri} is ${width}x${height} (${width * height} pixels), over the limit of ${limits.maxPixels} (SETRAIN_IMAGE_MAX_PIXELS); resize it or remove it from the manifest`,
    );
  }
  try {
    const { data, info } = await sharp(input, {
      failOn: 'warning',
      limitInputPixels: limits.maxPixels,
      sequentialRead: true,
    })
      .resize(size, size, { fit: 'fill', fastShrinkOnLoad: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return data;
  } catch (cause) {
    throw corrupt(uri, cause);
  }
}

function corrupt(uri: string, cause: unknown): WorkerError {
  return new WorkerError(
    'IMAGE_CORRUPT',
    `image ${uri} cannot be decoded: ${errorMessage(cause)}`,
    {
      cause,
    },
  );
}
