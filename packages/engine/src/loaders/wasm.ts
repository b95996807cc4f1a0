import { env } from '@tensorflow/tfjs-core';

import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import type { EngineLoader, LoadedEngine } from '../types.js';

const DESCRIPTION = '@tensorflow/tfjs-backend-wasm (XNNPACK) + setrain conv gradient kernels';

/**
 * @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD) plus the kernels it lacks for training.
 * Single-threaded in Node: the threaded binary needs Web Workers (tensorflow/tfjs#3830).
 */
export const wasmLoader: EngineLoader = {
  name: 'wasm',
  async load(): Promise<LoadedEngine> {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    return { description: DESCRIPTION, threads: 1 };
  },
  async afterSelect(loaded: LoadedEngine): Promise<LoadedEngine> {
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    // The wasm backend registers this flag; it decides which binary was loaded.
    const simd = (await env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    return {
      description: `${loaded.description}, ${simd ? 'SIMD' : 'no SIMD'}`,
      threads: getThreadsCount(),
    };
  },
};
