import {
  getKernel,
  util,
  type KernelConfig,
  type KernelFunc,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { NativeBackend } from '../native-backend.js';

/** Name the backend registers under. */
export const NATIVE_BACKEND_NAME = 'native';

/** Activation codes shared with csrc/common.h. */
export const ACTIVATION_LINEAR = 0;
export const ACTIVATION_RELU = 1;

/**
 * A kernel implementation given the addon; returns null when it does not handle the call, so the
 * cpu backend's kernel runs instead.
 *
 * tfjs types every kernel's `attrs` as NamedAttrMap, the union of all ops' attributes; the op that
 * called runKernel wrote them, so a kernel narrows them to that op's attributes with `as`. Those
 * attribute types are type aliases, not interfaces: an alias fits NamedAttrMap's index signature,
 * so TypeScript checks the narrowing (an interface would need `as unknown as`, which checks nothing).
 */
export type NativeKernelImpl = (
  args: Parameters<KernelFunc>[0],
) => TensorInfo | TensorInfo[] | null;

/** The float32 storage of a tensor on the native (cpu-layout) backend, or undefined when it is
 * another dtype, complex, or not materialised as a Float32Array. */
export function float32Values(
  backend: MathBackendCPU,
  t: TensorInfo | undefined,
): Float32Array | undefined {
  if (t === undefined || t.dtype !== 'float32') return undefined;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/** A new output array of `length` floats for a kernel that writes every element: reused from the
 * native backend's pool when it can be, so its contents are unspecified. */
export function outputArray(backend: MathBackendCPU, length: number): Float32Array {
  return backend instanceof NativeBackend ? backend.pool.take(length) : new Float32Array(length);
}

/** Wraps a typed array as a new float32 tensor on the backend (no copy). */
export function makeOutput(
  backend: MathBackendCPU,
  shape: number[],
  values: Float32Array,
): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

/** The tensors of an op that takes a list (Concat, AddN): tfjs passes the array as `inputs`. */
export function inputList(inputs: NamedTensorInfoMap): TensorInfo[] {
  return Object.values(inputs).filter((t) => t !== undefined);
}

export function sizeOf(shape: readonly number[]): number {
  return util.sizeFromShape(shape as number[]);
}

/** The cpu backend's kernel, which the native backend falls back to. */
export function cpuKernelFunc(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, 'cpu');
  if (config === undefined) {
    throw new Error(
      `the cpu backend has no ${kernelName} kernel; import @tensorflow/tfjs-backend-cpu first`,
    );
  }
  return config.kernelFunc;
}

/** A native kernel config that runs `impl` and falls back to the cpu kernel when it returns null. */
export function nativeKernel(kernelName: string, impl: NativeKernelImpl): KernelConfig {
  const fallback = cpuKernelFunc(kernelName);
  return {
    kernelName,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: (args) => {
      const out = impl(args);
      if (out !== null) return out;
      // The cpu kernel reads the inputs' arrays from JavaScript: queued kernels must finish first.
      if (args.backend instanceof NativeBackend) args.backend.syncInputs(inputList(args.inputs));
      return fallback(args);
    },
  };
}

/** Row-major strides of `shape`, broadcast against `outShape` (stride 0 on broadcast axes). */
export function broadcastStrides(
  shape: readonly number[],
  outShape: readonly number[],
): Int32Array {
  const rank = outShape.length;
  const strides = new Int32Array(rank);
  let stride = 1;
  for (let i = rank - 1, j = shape.length - 1; i >= 0; i--, j--) {
    const dim = j >= 0 ? (shape[j] ?? 1) : 1;
    strides[i] = dim === 1 ? 0 : stride;
    stride *= dim;
  }
  return strides;
}

/** Resolves an axis attribute (null = all, negative = from the end) against a shape, sorted. */
export function normalizeAxes(
  axis: number | number[] | null | undefined,
  shape: readonly number[],
): number[] {
  return util
    .parseAxisParam(axis ?? shape.map((_, i) => i), shape as number[])
    .sort((a, b) => a - b);
}
