import { baseSizeFor } from '../data-pipeline.js';
import { prepareData, type PreparedData } from '../trial-data.js';
import { DEFAULT_INPUT_SIZE } from './build-model.js';
import type { TrialContext } from './trial-context.js';

export type { PreparedData } from '../trial-data.js';

/**
 * The data stage: reads the manifest, opens the images decoded at the trial's size (see
 * trial-data.ts), reports cache use, records provenance. The caller closes `images`.
 */
export async function loadTrialData(ctx: TrialContext): Promise<PreparedData> {
  ctx.channel.send({ type: 'phase', phase: 'dataset' });
  const { payload, request } = ctx;
  const inputSize = payload.model.inputSize ?? DEFAULT_INPUT_SIZE;
  const data = await prepareData(ctx.client, {
    datasetUri: payload.dataset,
    baseSize: baseSizeFor(inputSize, payload.training.augmentation),
    validationSplit: payload.training.validationSplit,
    seed: payload.training.seed,
    cacheDir: request.cacheDir,
    downloadConcurrency: request.downloadConcurrency,
    ...(request.data !== undefined ? { options: request.data } : {}),
  });
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
