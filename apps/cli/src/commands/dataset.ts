import { readDataset } from '@setrain/storage';

import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { parseDatasetUri } from '../dataset/dataset-uri.js';
import { scanDatasetFolder } from '../dataset/scan-folder.js';
import { uploadDataset } from '../dataset/upload-dataset.js';
import { ProgressBar } from '../output/progress.js';

/** `setrain dataset upload <dir> <s3-uri>` */
export async function datasetUpload(
  ctx: CommandContext,
  dir: string,
  uri: string,
  options: { json?: boolean; concurrency?: number },
): Promise<void> {
  const target = parseDatasetUri(uri);
  const local = await scanDatasetFolder(dir);
  const progress = options.json
    ? undefined
    : new ProgressBar(ctx.err, 'uploading images', local.images.length);
  const result = await uploadDataset(ctx.s3(), target.bucket, target.prefix, local, {
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    onProgress: (done) => progress?.update(done),
  });
  progress?.finish();
  if (options.json) {
    writeJson(ctx, { ...result, images: local.images.length, labelsFrom: local.source });
    return;
  }
  ctx.out.write(
    `uploaded ${result.uploaded} images, skipped ${result.skipped} already there; ` +
      `${result.classes.length} classes (${result.multiLabel ? 'multi-label' : 'single-label'})\n` +
      `dataset: ${result.manifestUri}\n`,
  );
}

/** `setrain dataset validate <s3-uri>`: reads and checks manifest.jsonl + classes.json. */
export async function datasetValidate(
  ctx: CommandContext,
  uri: string,
  options: { json?: boolean },
): Promise<void> {
  const target = parseDatasetUri(uri);
  const dataset = await readDataset(ctx.s3(), target.manifestUri);
  const perClass = new Map<string, number>(dataset.classes.map((c) => [c, 0]));
  for (const entry of dataset.entries) {
    for (const label of entry.labels) perClass.set(label, (perClass.get(label) ?? 0) + 1);
  }
  const summary = {
    manifestUri: dataset.manifestUri,
    images: dataset.entries.length,
    classes: dataset.classes,
    multiLabel: dataset.multiLabel,
    imagesPerClass: Object.fromEntries(perClass),
    manifestEtag: dataset.manifestEtag,
  };
  if (options.json) {
    writeJson(ctx, summary);
    return;
  }
  ctx.out.write(
    `${dataset.manifestUri}: valid, ${dataset.entries.length} images, ${dataset.classes.length} classes ` +
      `(${dataset.multiLabel ? 'multi-label' : 'single-label'})\n` +
      [...perClass].map(([c, n]) => `  ${c}: ${n}`).join('\n') +
      '\n',
  );
}
