import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import type { S3Client } from '@aws-sdk/client-s3';
import { datasetKeys, mapWithConcurrency } from '@setrain/protocol';
import { headObject, putObject, sha256Hex, writeDataset } from '@setrain/storage';

import type { LocalDataset } from './scan-folder.js';

/** Images uploaded at once. */
export const DEFAULT_UPLOAD_CONCURRENCY = 8;

export interface UploadDatasetOptions {
  concurrency?: number;
  /** Called after each image with how many are done. */
  onProgress?: (done: number, total: number) => void;
}

export interface UploadDatasetResult {
  manifestUri: string;
  uploaded: number;
  /** Images already in S3 with the same sha256: not sent again (resumable uploads). */
  skipped: number;
  classes: string[];
  multiLabel: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
};

/**
 * Uploads a scanned local dataset as images + classes.json + manifest.jsonl (manifest last, so a
 * dataset is complete once its manifest exists). Images already present with the same sha256 are
 * skipped, so an interrupted upload resumes where it stopped.
 */
export async function uploadDataset(
  s3: S3Client,
  bucket: string,
  prefix: string,
  dataset: LocalDataset,
  options: UploadDatasetOptions = {},
): Promise<UploadDatasetResult> {
  const keys = datasetKeys(prefix);
  let done = 0;
  let uploaded = 0;
  let skipped = 0;
  await mapWithConcurrency(
    dataset.images,
    options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY,
    async (image) => {
      const bytes = await readFile(image.path);
      const sha256 = sha256Hex(bytes);
      const key = keys.image(image.key);
      const existing = await headObject(s3, bucket, key);
      if (existing?.sha256 === sha256) {
        skipped++;
      } else {
        await putObject(s3, bucket, key, bytes, {
          sha256,
          contentType:
            CONTENT_TYPES[extname(image.path).toLowerCase()] ?? 'application/octet-stream',
        });
        uploaded++;
      }
      done++;
      options.onProgress?.(done, dataset.images.length);
    },
  );
  const written = await writeDataset(s3, bucket, prefix, {
    classes: dataset.classes,
    entries: dataset.images.map((i) => ({ key: i.key, labels: i.labels })),
  });
  return {
    manifestUri: written.manifestUri,
    uploaded,
    skipped,
    classes: dataset.classes,
    multiLabel: dataset.images.some((i) => i.labels.length > 1),
  };
}
