import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import type { EngineLoader, LoadedEngine } from '../types.js';

const DESCRIPTION = '@tensorflow/tfjs-backend-wasm (XNNPACK) + setrain Conv2DBackpropFilter';

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
    return { ...loaded, threads: getThreadsCount() };
  },
};
