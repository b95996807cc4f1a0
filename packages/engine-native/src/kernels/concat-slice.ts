import { backend_util, type KernelConfig, util } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import {
  float32Values,
  inputList,
  makeOutput,
  nativeKernel,
  outputArray,
  sizeOf,
} from './kernel-utils.js';

/** Concat and Slice as row copies: Inception concatenates its branches on the channel axis, and the
 * gradient of that concat slices them back out. */
export function concatSliceKernels(addon: NativeAddon): KernelConfig[] {
  const concat = nativeKernel('Concat', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const tensors = inputList(inputs).filter((t) => sizeOf(t.shape) > 0);
    const first = tensors[0];
    if (first === undefined) return null;
    const axis = util.parseAxisParam((attrs as { axis: number }).axis, first.shape)[0] ?? 0;
    const values = tensors.map((t) => float32Values(cpu, t));
    if (values.some((v) => v === undefined)) return null;
    const rank = first.shape.length;
    for (const t of tensors) {
      if (t.shape.length !== rank) return null;
      for (let d = 0; d < rank; d++) if (d !== axis && t.shape[d] !== first.shape[d]) return null;
    }
    const rows = sizeOf(first.shape.slice(0, axis));
    const widths = tensors.map((t) => sizeOf(t.shape.slice(axis)));
    const pitch = widths.reduce((s, w) => s + w, 0);
    const out = outputArray(cpu, rows * pitch);
    let offset = 0;
    tensors.forEach((_, i) => {
      const width = widths[i] ?? 0;
      addon.copy2d(values[i] as Float32Array, 0, width, out, offset, pitch, rows, width);
      offset += width;
    });
    const outShape = [...first.shape];
    outShape[axis] = tensors.reduce((s, t) => s + (t.shape[axis] ?? 0), 0);
    return makeOutput(cpu, outShape, out);
  });

  const slice = nativeKernel('Slice', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x } = inputs;
    const xv = float32Values(cpu, x);
    if (x === undefined || xv === undefined) return null;
    const { begin, size } = attrs as { begin: number[]; size: number[] };
    const rank = x.shape.length;
    if (begin.length !== rank || size.length !== rank) return null;
    const sizes = size.map((s, d) => (s === -1 ? (x.shape[d] ?? 0) - (begin[d] ?? 0) : s));
    // Only slices along one axis (all others whole) are row copies.
    const cut = sizes.map((s, d) => s !== x.shape[d]);
    const axes = cut.flatMap((c, d) => (c ? [d] : []));
    if (axes.length !== 1) return null;
    const axis = axes[0] as number;
    const inner = sizeOf(x.shape.slice(axis + 1));
    const rows = sizeOf(x.shape.slice(0, axis));
    const cols = (sizes[axis] ?? 0) * inner;
    const out = outputArray(cpu, rows * cols);
    if (out.length > 0) {
      addon.copy2d(
        xv,
        (begin[axis] ?? 0) * inner,
        (x.shape[axis] ?? 0) * inner,
        out,
        0,
        cols,
        rows,
        cols,
      );
    }
    return makeOutput(cpu, sizes, out);
  });

  const splitV = nativeKernel('SplitV', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x } = inputs;
    const xv = float32Values(cpu, x);
    if (x === undefined || xv === undefined) return null;
    const { numOrSizeSplits, axis } = attrs as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const $axis = util.parseAxisParam(axis, x.shape)[0] ?? 0;
    const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
    const rows = sizeOf(x.shape.slice(0, $axis));
    const inner = sizeOf(x.shape.slice($axis + 1));
    const pitch = (x.shape[$axis] ?? 0) * inner;
    let begin = 0;
    return sizes.map((s) => {
      const cols = s * inner;
      const out = outputArray(cpu, rows * cols);
      if (out.length > 0) addon.copy2d(xv, begin * inner, pitch, out, 0, cols, rows, cols);
      begin += s;
      const shape = [...x.shape];
      shape[$axis] = s;
      return makeOutput(cpu, shape, out);
    });
  });

  return [concat, slice, splitV];
}
