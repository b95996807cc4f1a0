import { backend_util, type KernelConfig } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import {
  float32Values,
  makeOutput,
  nativeKernel,
  normalizeAxes,
  outputArray,
  sizeOf,
} from './kernel-utils.js';

/** Reduction codes shared with csrc/loops.h. */
const REDUCE_OPS = { Sum: 0, Mean: 1, Max: 2 } as const;

/** Sum, Mean and Max over a contiguous run of axes (the BN moments, global pooling, bias grads). */
export function reduceKernels(addon: NativeAddon): KernelConfig[] {
  return (['Sum', 'Mean', 'Max'] as const).map((name) =>
    nativeKernel(name, ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { x } = inputs;
      const xv = float32Values(cpu, x);
      if (x === undefined || xv === undefined || xv.length === 0) return null;
      // Max names its axes reductionIndices; Sum and Mean call them axis.
      const a = attrs as {
        axis?: number | number[];
        reductionIndices?: number | number[];
        keepDims: boolean;
      };
      const axis = name === 'Max' ? a.reductionIndices : a.axis;
      const keepDims = a.keepDims;
      const axes = normalizeAxes(axis, x.shape);
      const first = axes[0];
      const last = axes[axes.length - 1];
      if (first === undefined || last === undefined || last - first + 1 !== axes.length)
        return null;
      const outer = sizeOf(x.shape.slice(0, first));
      const r = sizeOf(x.shape.slice(first, last + 1));
      const inner = sizeOf(x.shape.slice(last + 1));
      const out = outputArray(cpu, outer * inner);
      addon.reduce(REDUCE_OPS[name], xv, out, outer, r, inner);
      const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
      const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
      return makeOutput(cpu, shape, out);
    }),
  );
}
