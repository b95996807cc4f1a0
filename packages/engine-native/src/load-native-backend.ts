import { availableParallelism } from 'node:os';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { adamKernel, installFusedAdam } from './adam.js';
import { loadAddon } from './addon.js';
import { installBackwardRelease } from './backward-release.js';
import { installTapeInputPruning } from './tape-input-pruning.js';
import { installGradientOverrides } from './gradients.js';
import { KernelQueue } from './kernel-queue.js';
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
  /** Run kernels on a background thread in call order (kernel-queue.ts), so JavaScript builds the
   * next ops while they run; off, each kernel runs inside its call, so a failing kernel throws
   * where its op is called. Default DEFAULT_ASYNC_KERNELS. */
  asyncKernels?: boolean;
}

/** What loadNativeBackend registered. */
export interface NativeBackendInfo {
  /** Human-readable: backend name, oneDNN version and runtime, threads. */
  description: string;
  /** Threads in use. */
  threads: number;
  /** Whether kernels run on the kernel queue's thread (NativeBackendOptions.asyncKernels). */
  asyncKernels: boolean;
  /** Kernels the native code implements (all others are the cpu backend's). */
  nativeKernels: string[];
}

export const DEFAULT_NATIVE_PRIORITY = 0;
export const DEFAULT_ASYNC_KERNELS = true;

/** The kernels registered with native code (the rest are the cpu backend's), filled on first load. */
const nativeKernelNames: string[] = [];
/** One per process, like the addon. */
let kernelQueue: KernelQueue | undefined;

/** cpu kernels that never hand out a view of an input's array (they add a reference or copy). */
const SHARING_SAFE_KERNELS = new Set([
  'Reshape',
  'Identity',
  'Cast',
  'ZerosLike',
  'OnesLike',
  'Fill',
]);

/** cpu kernels that look only at their inputs' shapes and dtypes (or add a reference to the same
 * array), so they need not wait for the kernel queue: Reshape follows most matmuls. */
const SHAPE_ONLY_KERNELS = new Set(['Reshape', 'Identity', 'ZerosLike', 'OnesLike', 'Fill']);

/** A Cast to the input's own dtype only adds a reference (avgPool and several gradients do it). */
function castKeepsDtype(args: Parameters<tf.KernelFunc>[0]): boolean {
  const x = (args.inputs as { x?: tf.TensorInfo }).x;
  return x !== undefined && x.dtype === (args.attrs as { dtype?: string } | undefined)?.dtype;
}

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
  kernelQueue ??= new KernelQueue(loadAddon());
  const queue = kernelQueue;
  const addon = queue.kernels;
  addon.setThreads(threads);
  queue.setAsync(options.asyncKernels ?? DEFAULT_ASYNC_KERNELS);
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
      const sharingSafe = SHARING_SAFE_KERNELS.has(config.kernelName);
      const shapeOnly = SHAPE_ONLY_KERNELS.has(config.kernelName);
      const isCast = config.kernelName === 'Cast';
      const kernelFunc: tf.KernelFunc = (args) => {
        const inputs = Object.values(args.inputs as Record<string, tf.TensorInfo | undefined>);
        const backend = args.backend as NativeBackend;
        // cpu kernels read their inputs from JavaScript: queued kernels writing them finish first.
        if (!shapeOnly && !(isCast && castKeepsDtype(args))) backend.syncInputs(inputs);
        if (!sharingSafe) backend.expose(inputs);
        return cpuKernel(args);
      };
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND_NAME, kernelFunc });
    }
    for (const config of own) tf.registerKernel(config);
    installFusedAdam();
    tf.registerBackend(
      NATIVE_BACKEND_NAME,
      () => new NativeBackend(queue),
      options.priority ?? DEFAULT_NATIVE_PRIORITY,
    );
  }
  installGradientOverrides();
  installBackwardRelease();
  installTapeInputPruning();
  await Promise.resolve();
  return {
    description: `native (oneDNN ${addon.version()}, ${threads} thread${threads === 1 ? '' : 's'}${queue.async ? ', queued kernels' : ''})`,
    threads,
    asyncKernels: queue.async,
    nativeKernels: [...nativeKernelNames],
  };
}
