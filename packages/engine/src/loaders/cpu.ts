import type { EngineLoader, LoadedEngine } from '../types.js';

/** Pure JavaScript kernels: always available, about 50x slower than wasm. Last resort. */
export const cpuLoader: EngineLoader = {
  name: 'cpu',
  async load(): Promise<LoadedEngine> {
    await import('@tensorflow/tfjs-backend-cpu');
    return { description: '@tensorflow/tfjs-backend-cpu (pure JavaScript)', threads: 1 };
  },
};
