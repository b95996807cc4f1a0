import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { buildSeInceptionV3 } from '@setrain/model';
import type { HeadActivation, TrainingSpec, TrialPayload } from '@setrain/protocol';

import { baseSizeFor } from '../data-pipeline.js';
import { errorMessage, WorkerError } from '../worker-error.js';
import type { PreparedData } from './prepare-data.js';
import type { TrialContext } from './trial-context.js';

/** Input side when the payload does not name one (Inception v3's native size). */
export const DEFAULT_INPUT_SIZE = 299;

/** The compiled model of a trial and the shapes every later stage needs. */
export interface TrainingSetup {
  readonly model: LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly inputSize: number;
  /** Side images are decoded at before augmentation crops them to inputSize. */
  readonly baseSize: number;
  readonly numClasses: number;
  /** Sigmoid head with binary cross-entropy (else softmax with categorical cross-entropy). */
  readonly multiLabelLoss: boolean;
}

function makeOptimizer(training: TrainingSpec): tf.Optimizer {
  switch (training.optimizer) {
    case 'adam':
      return tf.train.adam(training.learningRate);
    case 'sgd':
      // Plain SGD has no state to checkpoint; with momentum it keeps one accumulator per weight.
      return training.momentum > 0
        ? tf.train.momentum(training.learningRate, training.momentum)
        : tf.train.sgd(training.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(training.learningRate, 0.9, training.momentum);
  }
}

/**
 * Picks the output activation: the payload's when given (softmax on a multi-label dataset is
 * rejected: it cannot put two labels above 0.5), else sigmoid for multi-label data and softmax for
 * single-label data. The loss follows the activation.
 */
export function chooseHeadActivation(
  requested: HeadActivation | undefined,
  multiLabel: boolean,
): HeadActivation {
  if (requested === 'softmax' && multiLabel) {
    throw new WorkerError(
      'MODEL_CONFIG_INVALID',
      'model.headActivation is softmax but the dataset is multi-label (some images have several labels); use sigmoid',
    );
  }
  return requested ?? (multiLabel ? 'sigmoid' : 'softmax');
}

function buildNetwork(
  payload: TrialPayload,
  inputSize: number,
  numClasses: number,
  headActivation: HeadActivation,
): LayersModel {
  const { model } = payload;
  try {
    return buildSeInceptionV3({
      inputSize,
      numClasses,
      headActivation,
      ...(model.seRatio !== undefined ? { seRatio: model.seRatio } : {}),
      ...(model.dropout !== undefined ? { dropout: model.dropout } : {}),
      ...(model.sePlacement !== undefined ? { sePlacement: model.sePlacement } : {}),
      ...(model.preprocessing !== undefined ? { preprocessing: model.preprocessing } : {}),
      seed: payload.training.seed,
    });
  } catch (error) {
    throw new WorkerError(
      'MODEL_CONFIG_INVALID',
      `cannot build the model: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/** The model stage: builds and compiles the trial's SE-Inception v3 for its dataset. */
export function buildTrialModel(ctx: TrialContext, data: PreparedData): TrainingSetup {
  const { payload } = ctx;
  const numClasses = data.dataset.classes.length;
  const headActivation = chooseHeadActivation(
    payload.model.headActivation,
    data.dataset.multiLabel,
  );
  const multiLabelLoss = headActivation === 'sigmoid';
  ctx.checkStop();
  ctx.channel.send({ type: 'phase', phase: 'model' });
  const inputSize = payload.model.inputSize ?? DEFAULT_INPUT_SIZE;
  const model = buildNetwork(payload, inputSize, numClasses, headActivation);
  const optimizer = makeOptimizer(payload.training);
  model.compile({
    optimizer,
    loss: multiLabelLoss ? 'binaryCrossentropy' : 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return {
    model,
    optimizer,
    inputSize,
    baseSize: baseSizeFor(inputSize, payload.training.augmentation),
    numClasses,
    multiLabelLoss,
  };
}
