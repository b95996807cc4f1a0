import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from './addon.js';

/**
 * The cpu backend's storage (one TypedArray per tensor) with native kernels on top: every kernel
 * the cpu backend has also runs here, and the heavy ones are replaced by oneDNN and OpenMP code that
 * reads and writes the same arrays.
 */
export class NativeBackend extends MathBackendCPU {
  readonly addon: NativeAddon;

  constructor(addon: NativeAddon) {
    super();
    this.addon = addon;
  }
}
