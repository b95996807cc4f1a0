import { availableParallelism } from 'node:os';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { adamKernel, installFusedAdam } from './adam.js';
import { loadAddon } from './addon.js';
import { installBackwardRelease } from './backward-release.js';
import { installTapeInputPruning } from './tape-input-pruning.js';
import { installGradientOverrides } from './gradients.js';
import { batchNormKernels } from './kernels/batch-norm.js';
import { broadcastBinaryKernel } from './kernels/broadcast-binary.js';
import { concatSliceKernels } from './kernels/concat-slice.js';
import { convKernels } from './kernels/conv.js';
import { addNKernel, binaryKernels, unaryKernels } from './kernels/elementwise.js';
import { NATIVE_BACKEND_NAME } from './kernels/kernel-utils.js';
import { matMulKernels } from './kernels/matmul.js';
import { poolKernels } from './kernels/pool.js';
import { reduceKernels } from './kernels/reduce.js';
import { NativeBackend } from './native-backend.js';

/** Options of loadNativeBackend. */
export interface NativeBackendOptions {
  /** Threads for oneDNN and the elementwise loops (OpenMP). Default: the machine's available
   * parallelism. Training runs on the calling thread; the threads work inside each kernel. */
  threads?: number;
  /** Backend priority for tf.registerBackend; 0 leaves tfjs' default choice alone. Default 0. */
  priority?: number;
}

/** What loadNativeBackend registered. */
export interface NativeBackendInfo {
  /** Human-readable: backend name, oneDNN version and runtime, threads. */
  description: string;
  /** Threads in use. */
  threads: number;
  /** Kernels the native code implements (all others are the cpu backend's). */
  nativeKernels: string[];
}

export const DEFAULT_NATIVE_PRIORITY = 0;

/** The kernels registered with native code (the rest are the cpu backend's), filled on first load. */
const nativeKernelNames: string[] = [];

/** cpu kernels that never hand out a view of an input's array (they add a reference or copy). */
const SHARING_SAFE_KERNELS = new Set([
  'Reshape',
  'Identity',
  'Cast',
  'ZerosLike',
  'OnesLike',
  'Fill',
]);

function validateThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new RangeError(`threads must be an integer from 1 to 1024; got ${String(threads)}`);
  }
  return threads;
}

/**
 * Registers the 'native' tfjs backend (oneDNN kernels over the cpu backend's storage) and sets its
 * thread count. Throws NativeBackendError, saying what to install or run, when the addon is not
 * built or libdnnl is missing. Calling it again only changes the thread count.
 */
export async function loadNativeBackend(
  options: NativeBackendOptions = {},
): Promise<NativeBackendInfo> {
  const threads = validateThreads(options.threads ?? availableParallelism());
  const addon = loadAddon();
  addon.setThreads(threads);
  if (tf.findBackendFactory(NATIVE_BACKEND_NAME) === null) {
    const own = [
      ...convKernels(addon),
      ...matMulKernels(addon),
      ...batchNormKernels(addon),
      ...binaryKernels(addon),
      ...unaryKernels(addon),
      addNKernel(addon),
      ...reduceKernels(addon),
      ...poolKernels(addon),
      ...concatSliceKernels(addon),
      broadcastBinaryKernel(addon),
      adamKernel(addon),
    ];
    nativeKernelNames.push(...own.map((k) => k.kernelName));
    const ownNames = new Set(nativeKernelNames);
    for (const config of tf.getKernelsForBackend('cpu')) {
      if (ownNames.has(config.kernelName)) continue;
      const cpuKernel = config.kernelFunc;
      // cpu kernels may return views of their inputs (Slice does), so their inputs count as
      // exposed; the ones that only add a reference or copy are left out for speed.
      const kernelFunc: tf.KernelFunc = SHARING_SAFE_KERNELS.has(config.kernelName)
        ? cpuKernel
        : (args) => {
            const inputs = Object.values(args.inputs as Record<string, tf.TensorInfo | undefined>);
            (args.backend as NativeBackend).expose(inputs);
            return cpuKernel(args);
          };
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME, kernelFunc });
    }
    for (const config of own) tf.registerKernel(config);
    installFusedAdam();
    tf.registerBackend(
      NATIVE_BACKEND_NAME,
      () => new NativeBackend(addon),
      options.priority ?? DEFAULT_NATIVE_PRIORITY,
    );
  }
  installGradientOverrides();
  installBackwardRelease();
  installTapeInputPruning();
  await Promise.resolve();
  return {
    description: `native (oneDNN ${addon.version()}, ${threads} thread${threads === 1 ? '' : 's'})`,
    threads,
    nativeKernels: [...nativeKernelNames],
  };
}
