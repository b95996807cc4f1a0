import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import {
  float32Values,
  makeOutput,
  NATIVE_BACKEND_NAME,
  nativeKernel,
  outputArray,
} from './kernel-utils.js';

/** Custom kernel behind the FusedBatchNorm gradient on this backend (see gradients.ts). Outputs the
 * per-channel gradients of mean, variance, scale and offset, and the per-channel factor k with
 * dx = dy * k (mean and variance taken as inputs, like tfjs' own gradient). */
export const BATCH_NORM_GRAD_KERNEL = 'SetrainNativeBatchNormGrad';

/** @setrain/model's fused training batch norm (packages/model/src/batch-norm-training.ts holds the
 * contract; kernels.test.ts checks the names match): y, the batch mean and variance, and the
 * new moving averages. */
export const BATCH_NORM_TRAINING_KERNEL = 'SetrainBatchNormTraining';
/** Its gradient: [dx, doffset] from dy, x and the batch mean and variance. */
export const BATCH_NORM_TRAINING_GRAD_KERNEL = 'SetrainBatchNormTrainingGrad';

/** Per-channel vectors only: the layout of BatchNormalization layers over the last axis. */
function channelValues(
  cpu: MathBackendCPU,
  t: TensorInfo | undefined,
  channels: number,
): Float32Array | null | undefined {
  if (t === undefined) return null;
  const v = float32Values(cpu, t);
  return v !== undefined && t.shape.length === 1 && v.length === channels ? v : undefined;
}

export function batchNormKernels(addon: NativeAddon): KernelConfig[] {
  const forward = nativeKernel('FusedBatchNorm', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, mean, variance, offset, scale } = inputs;
    const xv = float32Values(cpu, x);
    if (x === undefined || xv === undefined || x.shape.length === 0) return null;
    const channels = x.shape[x.shape.length - 1] ?? 0;
    const m = channelValues(cpu, mean, channels);
    const v = channelValues(cpu, variance, channels);
    const o = channelValues(cpu, offset, channels);
    const s = channelValues(cpu, scale, channels);
    if (!m || !v || o === undefined || s === undefined || channels === 0) return null;
    const { varianceEpsilon } = attrs as { varianceEpsilon: number };
    const out = outputArray(cpu, xv.length);
    addon.batchNorm(xv, m, v, o, s, varianceEpsilon, out, xv.length / channels, channels);
    return makeOutput(cpu, [...x.shape], out);
  });

  const grad: KernelConfig = {
    kernelName: BATCH_NORM_GRAD_KERNEL,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { x, mean, variance, scale, dy } = inputs;
      const xv = float32Values(cpu, x);
      const dyv = float32Values(cpu, dy);
      if (x === undefined || xv === undefined || dyv === undefined) {
        throw new Error(`${BATCH_NORM_GRAD_KERNEL}: x and dy must be float32`);
      }
      const channels = x.shape[x.shape.length - 1] ?? 0;
      const m = channelValues(cpu, mean, channels);
      const v = channelValues(cpu, variance, channels);
      const s = channelValues(cpu, scale, channels);
      if (!m || !v || s === undefined)
        throw new Error(`${BATCH_NORM_GRAD_KERNEL}: per-channel inputs expected`);
      const { varianceEpsilon } = attrs as { varianceEpsilon: number };
      const dmean = new Float32Array(channels);
      const dvariance = new Float32Array(channels);
      const dscale = new Float32Array(channels);
      const doffset = new Float32Array(channels);
      addon.batchNormGrad(
        xv,
        m,
        v,
        s,
        dyv,
        varianceEpsilon,
        xv.length / channels,
        channels,
        null,
        dmean,
        dvariance,
        dscale,
        doffset,
      );
      return [dmean, dvariance, dscale, doffset].map((values) =>
        makeOutput(cpu, [channels], values),
      );
    },
  };
  const training: KernelConfig = {
    kernelName: BATCH_NORM_TRAINING_KERNEL,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { x, offset, movingMean, movingVariance } = inputs;
      const xv = float32Values(cpu, x);
      if (x === undefined || xv === undefined || x.shape.length < 2) {
        throw new Error(`${BATCH_NORM_TRAINING_KERNEL}: x must be float32 with rank >= 2`);
      }
      const channels = x.shape[x.shape.length - 1] ?? 0;
      const o = channelValues(cpu, offset, channels);
      const oldMean = channelValues(cpu, movingMean, channels);
      const oldVariance = channelValues(cpu, movingVariance, channels);
      if (!o || !oldMean || !oldVariance) {
        throw new Error(
          `${BATCH_NORM_TRAINING_KERNEL}: offset and moving statistics must be float32 [${channels}]`,
        );
      }
      const { epsilon, averagingRate } = attrs as {
        epsilon: number;
        averagingRate: number;
      };
      const rows = xv.length / channels;
      const y = outputArray(cpu, xv.length);
      const mean = new Float32Array(channels);
      const variance = new Float32Array(channels);
      const newMean = new Float32Array(channels);
      const newVariance = new Float32Array(channels);
      // The moving averages are computed by the addon too (in the float32 steps of the unfused
      // layer), so that with the kernel queue on nothing here waits for the batch statistics.
      addon.batchNormTrain(
        xv,
        o,
        epsilon,
        rows,
        channels,
        y,
        mean,
        variance,
        oldMean,
        oldVariance,
        averagingRate,
        newMean,
        newVariance,
      );
      return [
        makeOutput(cpu, [...x.shape], y),
        ...[mean, variance, newMean, newVariance].map((values) =>
          makeOutput(cpu, [channels], values),
        ),
      ];
    },
  };

  const trainingGrad: KernelConfig = {
    kernelName: BATCH_NORM_TRAINING_GRAD_KERNEL,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { dy, x, mean, variance } = inputs;
      const xv = float32Values(cpu, x);
      const dyv = float32Values(cpu, dy);
      if (x === undefined || xv === undefined || dyv === undefined || dyv.length !== xv.length) {
        throw new Error(
          `${BATCH_NORM_TRAINING_GRAD_KERNEL}: x and dy must be float32 of one shape`,
        );
      }
      const channels = x.shape[x.shape.length - 1] ?? 0;
      const m = channelValues(cpu, mean, channels);
      const v = channelValues(cpu, variance, channels);
      if (!m || !v) {
        throw new Error(
          `${BATCH_NORM_TRAINING_GRAD_KERNEL}: mean and variance must be [${channels}]`,
        );
      }
      const { epsilon } = attrs as { epsilon: number };
      const dx = outputArray(cpu, xv.length);
      const doffset = new Float32Array(channels);
      addon.batchNormTrainGrad(xv, m, v, dyv, epsilon, xv.length / channels, channels, dx, doffset);
      return [makeOutput(cpu, [...x.shape], dx), makeOutput(cpu, [channels], doffset)];
    },
  };
  return [forward, grad, training, trainingGrad];
}
