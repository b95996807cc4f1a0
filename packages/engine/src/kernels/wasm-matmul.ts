import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  BatchMatMul,
  getKernel,
  type BatchMatMulAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/**
 * Largest im2col matrix built at once, in floats (128 MiB). Bigger batches are split into
 * chunks of whole images, so a 299x299 batch of 32 stays well inside the 4 GiB wasm32 heap.
 */
export const MAX_IM2COL_ELEMENTS = 32 * 1024 * 1024;

/** Images per chunk so that images x elementsPerImage stays under maxElements (at least one). */
export function imagesPerChunk(
  batchSize: number,
  elementsPerImage: number,
  maxElements: number,
): number {
  return Math.max(1, Math.min(batchSize, Math.floor(maxElements / Math.max(1, elementsPerImage))));
}

/** a[1, m, k] x b[1, k, n] (or b[1, n, k] with transposeB) on the wasm backend. */
export type WasmMatMul = (a: TensorInfo, b: TensorInfo, backend: BackendWasm) => TensorInfo;

/**
 * The wasm backend's BatchMatMul kernel (XNNPACK), called directly: inside a kernel there is
 * no tape and no engine bookkeeping, and intermediates are freed with backend.disposeData.
 */
export function wasmMatMul(transposeB: boolean): WasmMatMul {
  const kernel = getKernel(BatchMatMul, 'wasm');
  if (kernel === undefined) throw new Error('the wasm backend has no BatchMatMul kernel');
  // Checked against tfjs's BatchMatMulAttrs but typed as the literal, which (unlike that interface,
  // without an index signature) fits the NamedAttrMap kernelFunc takes.
  const attrs = { transposeA: false, transposeB } satisfies BatchMatMulAttrs;
  return (a, b, backend) =>
    kernel.kernelFunc({
      inputs: { a, b },
      backend,
      attrs,
    }) as TensorInfo;
}
