import * as tf from '@tensorflow/tfjs-core';

/**
 * A fused training-mode batch norm (no scale) that a backend may implement, like TensorFlow's
 * FusedBatchNormV3 with an exponential averaging factor. Through tf.moments + tf.batchNorm and the
 * moving-average arithmetic a layer costs about a dozen kernels forward and a dozen full-size passes
 * backward; a backend that registers both kernels below does it in one kernel each way.
 *
 * Contract of BATCH_NORM_TRAINING_KERNEL: inputs `x` (float32, channels last, rank >= 2), `offset`,
 * `movingMean` and `movingVariance` ([C] each); attrs BatchNormTrainingAttrs. Outputs
 * [y, mean, variance, newMovingMean, newMovingVariance]: mean and the biased variance over every
 * axis but the last; y = (x - mean) / sqrt(variance + epsilon) + offset; new = old - (old - batch) *
 * averagingRate, where batch is the mean, and for the variance the unbiased variance
 * variance * n / (n - 1) over n rows (the biased one when n is 1), as Keras does.
 */
export const BATCH_NORM_TRAINING_KERNEL = 'SetrainBatchNormTraining';

/**
 * Contract of BATCH_NORM_TRAINING_GRAD_KERNEL: inputs `dy`, `x`, `mean`, `variance` (the forward's
 * batch statistics), attr `epsilon`; outputs [dx, doffset], the gradient of y through x, the batch
 * statistics included, and through offset.
 */
export const BATCH_NORM_TRAINING_GRAD_KERNEL = 'SetrainBatchNormTrainingGrad';

/** Attributes of both kernels (a type alias, not an interface, so that it fits tf.NamedAttrMap). */
export type BatchNormTrainingAttrs = {
  /** Added to the variance before the square root. */
  epsilon: number;
  /** Weight of the batch statistics in the new moving averages: 1 - momentum, or 1/k in the k-th
   * step of a recalibration. */
  averagingRate: number;
};

/** The moving averages a training step moves towards the batch statistics. */
export interface MovingStatistics {
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/** Batch-normalized x, the batch statistics it used, and the new moving averages. */
export interface BatchNormTrainingResult {
  y: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
  movingMean: tf.Tensor;
  movingVariance: tf.Tensor;
}

function fusedOnActiveBackend(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(BATCH_NORM_TRAINING_KERNEL, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_GRAD_KERNEL, backend) !== undefined
  );
}

tf.registerGradient({
  kernelName: BATCH_NORM_TRAINING_KERNEL,
  inputsToSave: ['x'],
  outputsToSave: [false, true, true, false, false],
  gradFunc: (dys, saved, attrs) => {
    const [x, mean, variance] = saved;
    const dy = Array.isArray(dys) ? dys[0] : dys;
    if (x === undefined || mean === undefined || variance === undefined || dy === undefined) {
      throw new Error(`${BATCH_NORM_TRAINING_KERNEL}: gradient called without its saved tensors`);
    }
    if (!fusedOnActiveBackend()) {
      throw new Error(
        `${BATCH_NORM_TRAINING_KERNEL} ran forward on a backend that has no ${BATCH_NORM_TRAINING_GRAD_KERNEL}: ` +
          `the backend changed to ${tf.getBackend()} between the forward and backward pass`,
      );
    }
    // One kernel computes both gradients; the closures hand them out. tfjs hands a gradient the
    // forward kernel's attrs as a NamedAttrMap; they are the record batchNormTraining passed.
    const [dx, doffset] = tf
      .engine()
      .runKernel<tf.Tensor[]>(
        BATCH_NORM_TRAINING_GRAD_KERNEL,
        { dy, x, mean, variance },
        { epsilon: (attrs as BatchNormTrainingAttrs).epsilon },
      );
    if (dx === undefined || doffset === undefined) {
      throw new Error(`${BATCH_NORM_TRAINING_GRAD_KERNEL} must return [dx, doffset]`);
    }
    return { x: () => dx, offset: () => doffset };
  },
});

/**
 * Training-mode batch norm over every axis but the last, without scale, and the moving averages
 * moved towards the batch statistics: the fused kernels when the active backend registers them,
 * tf.moments + tf.batchNorm otherwise. Gradients flow to x and offset only.
 */
export function batchNormTraining(
  x: tf.Tensor,
  offset: tf.Tensor,
  moving: MovingStatistics,
  attrs: BatchNormTrainingAttrs,
): BatchNormTrainingResult {
  if (x.dtype === 'float32' && x.rank >= 2 && fusedOnActiveBackend()) {
    const outputs = tf
      .engine()
      .runKernel<tf.Tensor[]>(
        BATCH_NORM_TRAINING_KERNEL,
        { x, offset, movingMean: moving.mean, movingVariance: moving.variance },
        attrs,
      );
    const [y, mean, variance, movingMean, movingVariance] = outputs;
    if (!y || !mean || !variance || !movingMean || !movingVariance) {
      throw new Error(`${BATCH_NORM_TRAINING_KERNEL} must return five tensors`);
    }
    return { y, mean, variance, movingMean, movingVariance };
  }
  const reductionAxes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, reductionAxes);
  // core's FusedBatchNorm saves its inputs for the backward pass and fails on a missing scale, so
  // gradients need a constant scale of ones (tensorflow/tfjs#2868).
  const y = tf.batchNorm(x, mean, variance, offset, tf.onesLike(offset), attrs.epsilon);
  const rows = x.size / (x.shape[x.rank - 1] ?? 1);
  const unbiased = rows > 1 ? tf.mul(variance, rows / (rows - 1)) : variance;
  const average = (old: tf.Tensor, batch: tf.Tensor) =>
    tf.sub(old, tf.mul(tf.sub(old, batch), attrs.averagingRate));
  return {
    y,
    mean,
    variance,
    movingMean: average(moving.mean, mean),
    movingVariance: average(moving.variance, unbiased),
  };
}
