import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import {
  broadcastStrides,
  float32Values,
  inputList,
  makeOutput,
  nativeKernel,
  outputArray,
  sizeOf,
} from './kernel-utils.js';

/** Binary op codes shared with csrc/loops.h. */
export const BINARY_OPS = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  /** dy where x > 0, else 0 (a = dy, b = x). */
  ReluGrad: 7,
  /** 2 * a * b: the gradient of square. */
  SquareGrad: 8,
} as const;

/** Unary op codes shared with csrc/loops.h. */
export const UNARY_OPS = {
  Relu: 0,
  Sigmoid: 1,
  Square: 2,
  Sqrt: 3,
  Rsqrt: 4,
  Neg: 5,
  Exp: 6,
  Log: 7,
  Abs: 8,
  Step: 9,
  Reciprocal: 10,
  Tanh: 11,
  Relu6: 12,
} as const;

/** The largest rank the native broadcast loop takes. */
const MAX_BINARY_RANK = 6;

/** Runs a broadcasting binary op into a new float32 tensor of `outShape`, or null if unsupported. */
export function runBinary(
  addon: NativeAddon,
  backend: MathBackendCPU,
  op: number,
  a: TensorInfo,
  b: TensorInfo,
  outShape?: number[],
): TensorInfo | null {
  const av = float32Values(backend, a);
  const bv = float32Values(backend, b);
  if (av === undefined || bv === undefined) return null;
  const shape = outShape ?? backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (shape.length > MAX_BINARY_RANK) return null;
  const out = outputArray(backend, sizeOf(shape));
  if (out.length > 0) {
    addon.binary(
      op,
      av,
      broadcastStrides(a.shape, shape),
      bv,
      broadcastStrides(b.shape, shape),
      Int32Array.from(shape),
      out,
    );
  }
  return makeOutput(backend, shape, out);
}

export function runUnary(
  addon: NativeAddon,
  backend: MathBackendCPU,
  op: number,
  x: TensorInfo,
  alpha = 0,
): TensorInfo | null {
  const xv = float32Values(backend, x);
  if (xv === undefined) return null;
  const out = outputArray(backend, xv.length);
  if (out.length > 0) addon.unary(op, xv, out, alpha, xv.length);
  return makeOutput(backend, [...x.shape], out);
}

export function binaryKernels(addon: NativeAddon): KernelConfig[] {
  const names = [
    'Add',
    'Sub',
    'Multiply',
    'RealDiv',
    'Maximum',
    'Minimum',
    'SquaredDifference',
  ] as const;
  return names.map((name) =>
    nativeKernel(name, ({ inputs, backend }) => {
      const { a, b } = inputs;
      if (a === undefined || b === undefined) return null;
      return runBinary(addon, backend as MathBackendCPU, BINARY_OPS[name], a, b);
    }),
  );
}

export function unaryKernels(addon: NativeAddon): KernelConfig[] {
  const names = [
    'Relu',
    'Sigmoid',
    'Square',
    'Sqrt',
    'Rsqrt',
    'Neg',
    'Exp',
    'Log',
    'Abs',
    'Step',
    'Reciprocal',
    'Tanh',
    'Relu6',
  ] as const;
  return names.map((name) =>
    nativeKernel(name, ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      if (x === undefined) return null;
      const alpha = name === 'Step' ? ((attrs as { alpha?: number }).alpha ?? 0) : 0;
      return runUnary(addon, backend as MathBackendCPU, UNARY_OPS[name], x, alpha);
    }),
  );
}

/** AddN: a chain of native adds into one output. */
export function addNKernel(addon: NativeAddon): KernelConfig {
  return nativeKernel('AddN', ({ inputs, backend }) => {
    const cpu = backend as MathBackendCPU;
    const tensors = inputList(inputs);
    const first = tensors[0];
    if (first === undefined) return null;
    const values = tensors.map((t) => float32Values(cpu, t));
    if (values.some((v) => v === undefined || v.length !== sizeOf(first.shape))) return null;
    const out = outputArray(cpu, sizeOf(first.shape));
    // A native copy, not out.set(): with the kernel queue on, the first input may still be being
    // written, and `out` (a reused array) still read, by queued kernels.
    addon.copy2d(values[0] as Float32Array, 0, out.length, out, 0, out.length, 1, out.length);
    const shape = Int32Array.from([out.length]);
    const strides = Int32Array.from([1]);
    for (let i = 1; i < values.length; i++) {
      addon.binary(BINARY_OPS.Add, out, strides, values[i] as Float32Array, strides, shape, out);
    }
    return makeOutput(cpu, [...first.shape], out);
  });
}
