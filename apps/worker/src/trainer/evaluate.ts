import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import * as tf from '@tensorflow/tfjs-core';

import { loadBatch, type SamplePlan } from '../data-pipeline.js';
import { WorkerError } from '../worker-error.js';
import type { TrainingSetup } from './build-model.js';
import { binaryMetrics, categoricalMetrics, meanRocAuc } from './eval-metrics.js';
import type { PreparedData } from './prepare-data.js';
import type { TrialContext } from './trial-context.js';

/** Validation loss and accuracy after an epoch (and the mean ROC AUC on multi-label data). */
export interface ValidationResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly auc?: number;
}

/**
 * The evaluation stage: predicts every validation batch in inference mode and scores the
 * predictions; a non-finite validation loss fails the trial as diverged.
 */
export async function evaluateValidation(
  ctx: TrialContext,
  setup: TrainingSetup,
  data: PreparedData,
  validationBatches: SamplePlan[][],
  epoch: number,
): Promise<ValidationResult> {
  ctx.channel.send({ type: 'phase', phase: 'evaluate' });
  const { inputSize, numClasses } = setup;
  const probs: number[] = [];
  const targets: number[] = [];
  for (const plans of validationBatches) {
    const arrays = await loadBatch(data.images, data.samples, plans, inputSize, numClasses);
    const x = tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]);
    try {
      const predicted = setup.model.predict(x) as tf.Tensor;
      try {
        probs.push(...(await predicted.data()));
      } finally {
        predicted.dispose();
      }
    } finally {
      x.dispose();
    }
    targets.push(...arrays.targets);
    await yieldToEventLoop();
  }
  const evaluation = setup.multiLabelLoss
    ? binaryMetrics(probs, targets)
    : categoricalMetrics(probs, targets, numClasses);
  const auc = data.dataset.multiLabel ? meanRocAuc(probs, targets, numClasses) : undefined;
  if (!Number.isFinite(evaluation.loss)) {
    throw new WorkerError(
      'TRIAL_DIVERGED',
      `training diverged: validation loss is ${evaluation.loss} after epoch ${epoch}`,
    );
  }
  return {
    loss: evaluation.loss,
    accuracy: evaluation.accuracy,
    ...(auc !== undefined ? { auc } : {}),
  };
}
