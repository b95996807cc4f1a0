import { backend_util, type KernelConfig } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import { float32Values, makeOutput, nativeKernel, outputArray, sizeOf } from './kernel-utils.js';

const POOL_MAX = 0;
const POOL_AVG = 1;

// A type alias, not an interface, so that it fits NamedAttrMap (see NativeKernelImpl).
type PoolAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function poolInfo(xShape: number[], attrs: PoolAttrs): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** The 12 numbers csrc/loops.h's PoolShape reads. */
function poolShape(info: backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

export function poolKernels(addon: NativeAddon): KernelConfig[] {
  const forward = (name: 'MaxPool' | 'AvgPool', kind: number) =>
    nativeKernel(name, ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { x } = inputs;
      const xv = float32Values(cpu, x);
      if (x === undefined || xv === undefined || x.shape.length !== 4) return null;
      const info = poolInfo(x.shape, attrs as PoolAttrs);
      const out = outputArray(cpu, sizeOf(info.outShape));
      addon.pool(kind, xv, out, poolShape(info));
      return makeOutput(cpu, info.outShape, out);
    });

  const maxPoolGrad = nativeKernel('MaxPoolGrad', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { dy, input } = inputs;
    const dyv = float32Values(cpu, dy);
    const xv = float32Values(cpu, input);
    if (input === undefined || dyv === undefined || xv === undefined || input.shape.length !== 4)
      return null;
    const info = poolInfo(input.shape, attrs as PoolAttrs);
    const dx = outputArray(cpu, xv.length);
    addon.poolGrad(POOL_MAX, dyv, xv, dx, poolShape(info));
    return makeOutput(cpu, [...input.shape], dx);
  });

  const avgPoolGrad = nativeKernel('AvgPoolGrad', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { dy, input } = inputs;
    const dyv = float32Values(cpu, dy);
    if (input === undefined || dyv === undefined || input.shape.length !== 4) return null;
    const info = poolInfo(input.shape, attrs as PoolAttrs);
    const dx = outputArray(cpu, sizeOf(input.shape));
    addon.poolGrad(POOL_AVG, dyv, null, dx, poolShape(info));
    return makeOutput(cpu, [...input.shape], dx);
  });

  return [forward('MaxPool', POOL_MAX), forward('AvgPool', POOL_AVG), maxPoolGrad, avgPoolGrad];
}
