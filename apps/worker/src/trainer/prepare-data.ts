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

import { multiHot, splitIndices, type Sample } from '../data-pipeline.js';
import { ImageCache, type CacheRequest } from '../image-cache.js';
import type { TrialRunRequest } from '../trial-ipc.js';
import { WorkerError } from '../worker-error.js';
import type { TrialContext } from './trial-context.js';

/** Manifest keys missing from S3 named in one error (the rest are counted). */
const MAX_NAMED_MISSING = 5;

/** The dataset of a trial, its images in the local cache, split into train and validation. */
export interface PreparedData {
  readonly dataset: Dataset;
  readonly samples: Sample[];
  readonly train: number[];
  readonly validation: number[];
  readonly downloaded: number;
  readonly cached: number;
}

/** The data stage: reads the manifest, fills the cache, reports cache use, records provenance. */
export async function loadTrialData(ctx: TrialContext): Promise<PreparedData> {
  ctx.channel.send({ type: 'phase', phase: 'dataset' });
  const data = await prepareData(ctx.client, ctx.request);
  const { dataset } = data;
  ctx.channel.send({
    type: 'metric',
    event: { kind: 'cache', hits: data.cached, misses: data.downloaded },
  });
  ctx.provenance = {
    ...ctx.provenance,
    manifestEtag: dataset.manifestEtag,
    numClasses: dataset.classes.length,
    multiLabel: dataset.multiLabel,
    trainImages: data.train.length,
    validationImages: data.validation.length,
  };
  return data;
}

async function readManifest(client: S3Client, request: TrialRunRequest): Promise<Dataset> {
  try {
    return await readDataset(client, request.payload.dataset);
  } catch (error) {
    if (error instanceof DatasetInvalidError) {
      throw new WorkerError('DATASET_INVALID', error.message, { cause: error });
    }
    throw error;
  }
}

/** What to download for each manifest entry; fails naming the images missing from S3. */
async function cacheRequestsFor(client: S3Client, dataset: Dataset): Promise<CacheRequest[]> {
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

async function prepareData(client: S3Client, request: TrialRunRequest): Promise<PreparedData> {
  const { payload } = request;
  const dataset = await readManifest(client, request);
  const requests = await cacheRequestsFor(client, dataset);
  if (dataset.entries.length < 2) {
    throw new WorkerError(
      'DATASET_INVALID',
      `${dataset.manifestUri} has ${dataset.entries.length} image(s); training needs at least 2 (one for validation)`,
    );
  }
  const cache = new ImageCache(client, {
    dir: request.cacheDir,
    concurrency: request.downloadConcurrency,
  });
  const filled = await cache.fill(requests);
  const classIndex = new Map(dataset.classes.map((name, index) => [name, index]));
  const samples = dataset.entries.map((entry, index) => ({
    path: filled.paths[index] as string,
    uri: formatS3Uri({ bucket: dataset.bucket, key: datasetImageKey(dataset, entry) }),
    target: multiHot(entry.labels, classIndex),
  }));
  const { train, validation } = splitIndices(
    samples.length,
    payload.training.validationSplit,
    payload.training.seed,
  );
  return {
    dataset,
    samples,
    train,
    validation,
    downloaded: filled.downloaded,
    cached: filled.cached,
  };
}
