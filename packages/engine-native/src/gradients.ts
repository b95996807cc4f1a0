import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';

import { BATCH_NORM_GRAD_KERNEL } from './kernels/batch-norm.js';
import { BROADCAST_BINARY_KERNEL } from './kernels/broadcast-binary.js';
import { BINARY_OPS } from './kernels/elementwise.js';
import { NATIVE_BACKEND_NAME, normalizeAxes } from './kernels/kernel-utils.js';

type GradFunc = GradConfig['gradFunc'];
type GradResult = ReturnType<GradFunc>;

/** dx = op(dy, x) in one native pass, for a unary op whose gradient needs only dy and x. */
function elementwiseGrad(original: GradFunc, op: number): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved;
    const grad = dy as Tensor;
    if (x === undefined || x.dtype !== 'float32' || grad.dtype !== 'float32' || x.rank > 6) {
      return original(dy, saved, attrs);
    }
    return {
      x: () =>
        tf
          .engine()
          .runKernel<Tensor>(BROADCAST_BINARY_KERNEL, { a: grad, b: x }, { op, shape: x.shape }),
    };
  };
}

/**
 * tfjs registers gradients per op for every backend. Its gradients of batch norm, mean, square and
 * relu are written as chains of full-size elementwise ops (tile, ones, several multiplies); on this
 * backend each becomes one native pass. On any other backend, and for inputs the native path does
 * not cover, the original gradient runs unchanged.
 */
const overrides: Record<string, (original: GradFunc) => GradFunc> = {
  FusedBatchNorm: (original) => (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const grad = dy as Tensor;
    if (
      x === undefined ||
      mean === undefined ||
      variance === undefined ||
      mean.rank !== 1 ||
      variance.rank !== 1 ||
      (scale !== undefined && scale.rank !== 1) ||
      x.dtype !== 'float32' ||
      grad.dtype !== 'float32'
    ) {
      return original(dy, saved, attrs);
    }
    const { varianceEpsilon } = attrs as { varianceEpsilon: number };
    // Per-channel results only (small); dx is written lazily in one pass below.
    const inputs: tf.NamedTensorMap = { x, mean, variance, dy: grad };
    if (scale !== undefined) inputs['scale'] = scale;
    const [dmean, dvariance, dscale, doffset] = tf
      .engine()
      .runKernel<Tensor[]>(BATCH_NORM_GRAD_KERNEL, inputs, attrs);
    return {
      x: () => {
        const factor = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
        return tf.mul(grad, scale === undefined ? factor : tf.mul(factor, scale));
      },
      mean: () => dmean as Tensor,
      variance: () => dvariance as Tensor,
      scale: () => dscale as Tensor,
      offset: () => doffset as Tensor,
    } satisfies GradResult;
  },

  Mean: (original) => (dy, saved, attrs) => {
    const [x] = saved;
    const grad = dy as Tensor;
    if (x === undefined || x.dtype !== 'float32' || x.rank > 6) return original(dy, saved, attrs);
    const { axis } = attrs as { axis: number | number[] };
    const axes = normalizeAxes(axis, x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reduceSize = axes.reduce((n, a) => n * (x.shape[a] ?? 1), 1);
    return {
      x: () =>
        tf
          .engine()
          .runKernel<Tensor>(
            BROADCAST_BINARY_KERNEL,
            { a: tf.reshape(grad, expanded), b: tf.scalar(reduceSize) },
            { op: BINARY_OPS.RealDiv, shape: x.shape },
          ),
    };
  },

  Square: (original) => elementwiseGrad(original, BINARY_OPS.SquareGrad),
  Relu: (original) => elementwiseGrad(original, BINARY_OPS.ReluGrad),
};

/**
 * Which tensors a gradient saves, where this module changes tfjs' choice. Relu's gradient reads only
 * where the input was positive, which is where the output is: saving the output (which the next
 * layer saves anyway) rather than the input lets the input, a batch-norm output, be freed as soon as
 * the ReLU has read it (releaseConsumedOutputsInTraining in @setrain/model). tfjs' own gradFunc
 * computes dy * step(saved[0]) and stays correct on every backend with either.
 */
const savedTensors: Partial<Record<string, Pick<GradConfig, 'inputsToSave' | 'outputsToSave'>>> = {
  Relu: { inputsToSave: [], outputsToSave: [true] },
};

/** The wrappers this module registered, so a second install does not wrap them again. */
const wrappers = new WeakSet<GradFunc>();

/**
 * Wraps the gradients above so they take the native path while 'native' is the active backend.
 * tfjs-layers registers every gradient when it is imported, which replaces earlier wrappers, so
 * loadNativeBackend installs them on every call (after the imports) and skips ones already wrapped.
 */
export function installGradientOverrides(): void {
  for (const [kernelName, makeOverride] of Object.entries(overrides)) {
    const config = tf.getGradient(kernelName);
    if (config === undefined || wrappers.has(config.gradFunc)) continue;
    const original = config.gradFunc;
    const native = makeOverride(original);
    const gradFunc: GradFunc = (dy, saved, attrs) =>
      tf.getBackend() === NATIVE_BACKEND_NAME
        ? native(dy, saved, attrs)
        : original(dy, saved, attrs);
    wrappers.add(gradFunc);
    tf.registerGradient({ ...config, ...savedTensors[kernelName], gradFunc });
  }
}
