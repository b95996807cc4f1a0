import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';

import { createWasmConv2dBackpropFilterConfig } from './wasm-conv2d-backprop-filter.js';

/**
 * Kernels training SE-Inception v3 needs that @tensorflow/tfjs-backend-wasm 4.22 lacks.
 * Found by profiling a trainOnBatch step on another backend and diffing its kernel names
 * against the wasm registry: Conv2DBackpropFilter is the only one missing.
 */
export const WASM_EXTRA_KERNELS: readonly KernelConfig[] = [createWasmConv2dBackpropFilterConfig()];

/** Registers WASM_EXTRA_KERNELS unless the backend (a newer release) already has them. */
export function registerWasmKernels(): void {
  for (const config of WASM_EXTRA_KERNELS) {
    if (getKernel(config.kernelName, config.backendName) === undefined) registerKernel(config);
  }
}
