import type { KernelConfig } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import { runBinary } from './elementwise.js';
import { NATIVE_BACKEND_NAME } from './kernel-utils.js';

/** Custom kernel: a binary op (BINARY_OPS code in attrs.op) broadcast into attrs.shape, which may be
 * larger than both inputs. The gradient overrides use it to write a gradient in one pass. */
export const BROADCAST_BINARY_KERNEL = 'SetrainNativeBroadcastBinary';

export function broadcastBinaryKernel(addon: NativeAddon): KernelConfig {
  return {
    kernelName: BROADCAST_BINARY_KERNEL,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs;
      const { op, shape } = attrs as { op: number; shape: number[] };
      if (a === undefined || b === undefined)
        throw new Error(`${BROADCAST_BINARY_KERNEL}: a and b are required`);
      const out = runBinary(addon, backend as MathBackendCPU, op, a, b, shape);
      if (out === null)
        throw new Error(`${BROADCAST_BINARY_KERNEL}: float32 inputs of rank <= 6 expected`);
      return out;
    },
  };
}
