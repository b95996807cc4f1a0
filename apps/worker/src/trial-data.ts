import { join } from 'node:path';

import type { S3Client } from '@aws-sdk/client-s3';
import { formatS3Uri } from '@setrain/protocol';
import {
  datasetImageKey,
  DatasetInvalidError,
  listObjects,
  readDataset,
  type Dataset,
  type ObjectSummary,
} from '@setrain/storage';

import { multiHot, splitIndices, type Sample } from './data-pipeline.js';
import { DecodedImageCache, type DecodedImages } from './decoded-cache.js';
import { ImageCache, type CacheRequest } from './image-cache.js';
import { decodeImage, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './image-decode.js';
import { WorkerError } from './worker-error.js';

/** Limits and budgets of a trial's data (the worker's config; defaults in the modules named). */
export interface TrialDataOptions {
  /** Per-image byte and pixel caps (image-decode.ts). */
  readonly imageLimits?: ImageLimits;
  /** Byte budget of the downloaded images (image-cache.ts). */
  readonly cacheMaxBytes?: number;
  /** Byte budget of the decoded, resized images (decoded-cache.ts). */
  readonly decodedCacheMaxBytes?: number;
}

/** What a trial trains on. */
export interface PreparedData {
  readonly dataset: Dataset;
  readonly samples: Sample[];
  /** Every sample's pixels at the base size; the caller closes it. */
  readonly images: DecodedImages;
  readonly train: number[];
  readonly validation: number[];
  /** Images fetched from S3 for this trial. */
  readonly downloaded: number;
  /** Images served from the machine's caches. */
  readonly cached: number;
}

/** What {@link prepareData} needs to know about the trial. */
export interface PrepareDataRequest {
  readonly datasetUri: string;
  /** Side images are decoded to (before crops). */
  readonly baseSize: number;
  readonly validationSplit: number;
  readonly seed: number;
  /** Root of the machine's caches (see {@link cacheDirs}). */
  readonly cacheDir: string;
  readonly downloadConcurrency: number;
  readonly options?: TrialDataOptions;
}

/** Manifest keys missing from S3 named in one error (the rest are counted). */
const MAX_NAMED_MISSING = 5;

/** Where the two caches live under the worker's cache directory. */
export function cacheDirs(cacheDir: string): { images: string; decoded: string } {
  return { images: cacheDir, decoded: join(cacheDir, 'decoded') };
}

/**
 * Reads and validates the dataset, then opens its decoded images at `baseSize`: from the machine's
 * decoded cache when another trial already built them (no download, no decode), otherwise by
 * fetching each image through the image cache and decoding it once, within the image limits.
 */
export async function prepareData(
  client: S3Client,
  request: PrepareDataRequest,
): Promise<PreparedData> {
  const dataset = await readDatasetOrFail(client, request.datasetUri);
  const requests = await listImages(client, dataset);
  if (dataset.entries.length < 2) {
    throw new WorkerError(
      'DATASET_INVALID',
      `${dataset.manifestUri} has ${dataset.entries.length} image(s); training needs at least 2 (one for validation)`,
    );
  }
  const dirs = cacheDirs(request.cacheDir);
  const limits = request.options?.imageLimits ?? DEFAULT_IMAGE_LIMITS;
  const imageCache = new ImageCache(client, {
    dir: dirs.images,
    limits,
    ...(request.options?.cacheMaxBytes !== undefined
      ? { maxBytes: request.options.cacheMaxBytes }
      : {}),
  });
  const decodedCache = new DecodedImageCache({
    dir: dirs.decoded,
    concurrency: request.downloadConcurrency,
    ...(request.options?.decodedCacheMaxBytes !== undefined
      ? { maxBytes: request.options.decodedCacheMaxBytes }
      : {}),
  });
  const uris = requests.map((r) => formatS3Uri({ bucket: r.bucket, key: r.key }));
  let downloaded = 0;
  const images = await decodedCache.open(
    {
      images: requests.map((r) => JSON.stringify([r.bucket, r.key, r.etag, r.size])),
      size: request.baseSize,
    },
    async (index) => {
      const image = await imageCache.get(requests[index] as CacheRequest);
      if (image.downloaded) downloaded += 1;
      // Bytes just downloaded are decoded from memory: no second read of the file just written.
      return decodeImage(
        image.bytes ?? image.path,
        request.baseSize,
        uris[index] as string,
        limits,
      );
    },
  );
  if (images.built) await imageCache.evict();
  const classIndex = new Map(dataset.classes.map((name, index) => [name, index]));
  const samples = dataset.entries.map((entry, index) => ({
    uri: uris[index] as string,
    target: multiHot(entry.labels, classIndex),
  }));
  const { train, validation } = splitIndices(samples.length, request.validationSplit, request.seed);
  return {
    dataset,
    samples,
    images,
    train,
    validation,
    downloaded,
    cached: samples.length - downloaded,
  };
}

async function readDatasetOrFail(client: S3Client, uri: string): Promise<Dataset> {
  try {
    return await readDataset(client, uri);
  } catch (error) {
    if (error instanceof DatasetInvalidError) {
      throw new WorkerError('DATASET_INVALID', error.message, { cause: error });
    }
    throw error;
  }
}

/** Each manifest entry's object as listed; fails naming the entries that have none. */
async function listImages(client: S3Client, dataset: Dataset): Promise<CacheRequest[]> {
  const listing = new Map<string, ObjectSummary>();
  for await (const object of listObjects(client, dataset.bucket, `${dataset.prefix}/`)) {
    listing.set(object.key, object);
  }
  const requests: CacheRequest[] = [];
  const missing: string[] = [];
  for (const entry of dataset.entries) {
    const key = datasetImageKey(dataset, entry);
    const object = listing.get(key);
    if (object === undefined) missing.push(formatS3Uri({ bucket: dataset.bucket, key }));
    else requests.push({ bucket: dataset.bucket, key, etag: object.etag, size: object.size });
  }
  if (missing.length > 0) {
    const named = missing.slice(0, MAX_NAMED_MISSING).join(', ');
    const more =
      missing.length > MAX_NAMED_MISSING ? ` and ${missing.length - MAX_NAMED_MISSING} more` : '';
    throw new WorkerError(
      'IMAGE_MISSING',
      `${missing.length} image(s) listed in ${dataset.manifestUri} do not exist: ${named}${more}`,
    );
  }
  return requests;
}
