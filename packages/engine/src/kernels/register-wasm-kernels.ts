import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';

import { createWasmConv2dBackpropFilterConfig } from './wasm-conv2d-backprop-filter.js';
import { createWasmConv2dBackpropInputConfig } from './wasm-conv2d-backprop-input.js';

/**
 * Kernels training SE-Inception v3 needs that @tensorflow/tfjs-backend-wasm 4.22 lacks. Found by
 * profiling a trainOnBatch step on another backend and diffing its kernel names against the wasm
 * registry: Conv2DBackpropFilter (tensorflow/tfjs#8474) is the only one missing.
 */
export const WASM_MISSING_KERNELS: readonly KernelConfig[] = [
  createWasmConv2dBackpropFilterConfig(),
];

/** Kernels the wasm backend has, replaced because ours run on XNNPACK instead of a direct loop. */
export const WASM_REPLACED_KERNELS: readonly KernelConfig[] = [
  createWasmConv2dBackpropInputConfig(),
];

/**
 * Registers WASM_MISSING_KERNELS unless the backend (a newer release) already has them, and
 * WASM_REPLACED_KERNELS in place of the backend's own. Idempotent.
 */
export function registerWasmKernels(): void {
  for (const config of WASM_MISSING_KERNELS) {
    if (getKernel(config.kernelName, config.backendName) === undefined) registerKernel(config);
  }
  for (const config of WASM_REPLACED_KERNELS) {
    const current = getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    // Unregister first: registerKernel warns when it overwrites.
    if (current !== undefined) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
  }
}
