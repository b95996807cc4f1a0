import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import * as tf from '@tensorflow/tfjs-core';

import { loadBatch, type SamplePlan } from '../data-pipeline.js';
import { WorkerError } from '../worker-error.js';
import type { TrainingSetup } from './build-model.js';
import { StreamingEvaluation } from './eval-metrics.js';
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
  const evaluation = new StreamingEvaluation(
    numClasses,
    setup.multiLabelLoss,
    data.dataset.multiLabel,
  );
  for (const plans of validationBatches) {
    const arrays = await loadBatch(data.images, data.samples, plans, inputSize, numClasses);
    const x = tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]);
    try {
      const predicted = setup.model.predict(x) as tf.Tensor;
      try {
        evaluation.add(await predicted.data(), arrays.targets);
      } finally {
        predicted.dispose();
      }
    } finally {
      x.dispose();
    }
    await yieldToEventLoop();
  }
  const result = evaluation.result();
  if (!Number.isFinite(result.loss)) {
    throw new WorkerError(
      'TRIAL_DIVERGED',
      `training diverged: validation loss is ${result.loss} after epoch ${epoch}`,
    );
  }
  return result;
}
