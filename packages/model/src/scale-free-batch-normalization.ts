import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable, type Shape } from '@tensorflow/tfjs-layers';

import { batchNormTraining } from './batch-norm-training.js';

/** Keras' BatchNormalization defaults, which InceptionV3 uses. */
export const DEFAULT_BN_MOMENTUM = 0.99;
export const DEFAULT_BN_EPSILON = 0.001;

/** Options of ScaleFreeBatchNormalization. */
export interface ScaleFreeBatchNormalizationArgs {
  /** Layer name; Keras InceptionV3 uses batch_normalization_<n>. */
  name?: string;
  /** Channel axis; must be the last axis (channels_last, Keras axis=3 on images). Default -1. */
  axis?: number;
  /** Weight of the old value in the moving averages. Default 0.99. */
  momentum?: number;
  /** Added to the variance before the square root. Default 0.001. */
  epsilon?: number;
  /** Whether the layer's weights are updated in training. Default true. */
  trainable?: boolean;
}

/**
 * BatchNormalization with `scale: false` (beta, moving_mean, moving_variance; no gamma), the layout of
 * Keras InceptionV3 and its .h5 weights. tfjs-layers' own BatchNormalization crashes in training when
 * `scale` is false (it reads the missing gamma; tensorflow/tfjs#2868), so this layer implements both
 * paths itself with a constant gamma of ones that is never a weight.
 */
export class ScaleFreeBatchNormalization extends layers.Layer {
  /** Registered under this name, so model.json files that contain it load back after importing
   * this module. */
  static className = 'ScaleFreeBatchNormalization';

  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  private beta: LayerVariable | undefined;
  private movingMean: LayerVariable | undefined;
  private movingVariance: LayerVariable | undefined;
  /** While set (1, 2, ...), training-mode calls average batch statistics exactly instead of by
   * momentum: see recalibrateBatchNorm. */
  private recalibrationStep: number | undefined;

  constructor(args: ScaleFreeBatchNormalizationArgs = {}) {
    const trainable = args.trainable ?? true;
    super(args.name === undefined ? { trainable } : { name: args.name, trainable });
    this.axis = args.axis ?? -1;
    this.momentum = args.momentum ?? DEFAULT_BN_MOMENTUM;
    this.epsilon = args.epsilon ?? DEFAULT_BN_EPSILON;
    this.supportsMasking = true;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const axis = this.axis < 0 ? this.axis + shape.length : this.axis;
    const channels = shape[axis];
    if (axis !== shape.length - 1 || channels == null) {
      throw new Error(
        `${this.name}: the channel axis must be the last one and defined; got axis ${this.axis} of ${JSON.stringify(shape)}`,
      );
    }
    this.beta = this.addWeight(
      'beta',
      [channels],
      'float32',
      initializers.zeros(),
      undefined,
      true,
    );
    this.movingMean = this.addWeight(
      'moving_mean',
      [channels],
      'float32',
      initializers.zeros(),
      undefined,
      false,
    );
    this.movingVariance = this.addWeight(
      'moving_variance',
      [channels],
      'float32',
      initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const { beta, movingMean, movingVariance } = this;
      if (x == null || beta == null || movingMean == null || movingVariance == null) {
        throw new Error(`${this.name} was called before it was built`);
      }
      // A frozen layer (trainable = false) normalizes with its moving statistics and leaves them
      // alone, as Keras 2 does since TF 2.0: what fine-tuning on a frozen ImageNet backbone needs.
      if (kwargs['training'] !== true || !this.trainable) {
        // A constant gamma of ones: core's FusedBatchNorm saves its inputs for the backward pass
        // and fails on a missing scale, so gradients (training or not) need one. Not a weight.
        return tf.batchNorm(
          x,
          movingMean.read(),
          movingVariance.read(),
          beta.read(),
          tf.onesLike(beta.read()),
          this.epsilon,
        );
      }
      const rate =
        this.recalibrationStep !== undefined ? 1 / this.recalibrationStep : 1 - this.momentum;
      const result = batchNormTraining(
        x,
        beta.read(),
        { mean: movingMean.read(), variance: movingVariance.read() },
        { epsilon: this.epsilon, averagingRate: rate },
      );
      movingMean.write(result.movingMean);
      movingVariance.write(result.movingVariance);
      return result.y;
    });
  }

  /**
   * Starts (step 1), continues (2, 3, ...) or ends (undefined) a recalibration: at step k the moving
   * statistics move 1/k of the way to the batch's, so after k batches they are the exact mean of
   * the k batch statistics, whatever they were before.
   */
  setRecalibrationStep(step: number | undefined): void {
    if (step !== undefined && !(Number.isInteger(step) && step >= 1)) {
      throw new RangeError(`recalibration steps count from 1; got ${step}`);
    }
    this.recalibrationStep = step;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: true,
      scale: false,
    };
  }
}

tf.serialization.registerClass(ScaleFreeBatchNormalization);
