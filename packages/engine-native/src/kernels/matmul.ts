import {
  backend_util,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorInfoMap,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import { UNARY_OPS } from './elementwise.js';
import {
  ACTIVATION_LINEAR,
  ACTIVATION_RELU,
  float32Values,
  makeOutput,
  nativeKernel,
  outputArray,
  sizeOf,
} from './kernel-utils.js';
import type { TensorInfo } from '@tensorflow/tfjs-core';

// A type alias, not an interface, so that it fits NamedAttrMap (see NativeKernelImpl).
type MatMulAttrs = {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
};

function runMatMul(
  addon: NativeAddon,
  cpu: MathBackendCPU,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
  fused: boolean,
): TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = inputs;
  const { transposeA, transposeB, activation = 'linear' } = attrs as MatMulAttrs;
  const av = float32Values(cpu, a);
  const bv = float32Values(cpu, b);
  if (a === undefined || b === undefined || av === undefined || bv === undefined) return null;
  if (a.shape.length < 2 || b.shape.length < 2 || preluActivationWeights !== undefined) return null;
  const rowsA = a.shape[a.shape.length - 2] ?? 0;
  const colsA = a.shape[a.shape.length - 1] ?? 0;
  const rowsB = b.shape[b.shape.length - 2] ?? 0;
  const colsB = b.shape[b.shape.length - 1] ?? 0;
  const m = transposeA ? colsA : rowsA;
  const k = transposeA ? rowsA : colsA;
  const n = transposeB ? rowsB : colsB;
  if ((transposeB ? colsB : rowsB) !== k || m === 0 || n === 0 || k === 0) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  let bv2: Float32Array | null = null;
  if (fused && bias !== undefined) {
    const values = float32Values(cpu, bias);
    if (values === undefined || values.length !== n || bias.shape[bias.shape.length - 1] !== n)
      return null;
    bv2 = values;
  }
  if (fused && !['linear', 'relu', 'sigmoid'].includes(activation)) return null;
  const out = outputArray(cpu, Math.max(batchA, batchB) * m * n);
  addon.matmul(
    av,
    bv,
    bv2,
    out,
    batchA,
    batchB,
    m,
    k,
    n,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
    fused && activation === 'relu' ? ACTIVATION_RELU : ACTIVATION_LINEAR,
  );
  if (fused && activation === 'sigmoid') addon.unary(UNARY_OPS.Sigmoid, out, out, 0, out.length);
  return makeOutput(cpu, [...outer, m, n], out);
}

export function matMulKernels(addon: NativeAddon): KernelConfig[] {
  return [
    nativeKernel('BatchMatMul', ({ inputs, backend, attrs }) =>
      runMatMul(addon, backend as MathBackendCPU, inputs, attrs ?? {}, false),
    ),
    nativeKernel('_FusedMatMul', ({ inputs, backend, attrs }) =>
      runMatMul(addon, backend as MathBackendCPU, inputs, attrs ?? {}, true),
    ),
  ];
}
