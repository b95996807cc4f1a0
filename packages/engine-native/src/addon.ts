import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { NativeBackendError } from './native-backend-error.js';

/** The compiled kernels (csrc/addon.cc). Arrays are the tensors' own storage; nothing is copied.
 * Each kernel returns its ticket when the kernel queue is on (setAsync(1)) and 0 when it ran at
 * once; see kernel-queue.ts for what a queued kernel asks of its caller. */
export interface NativeAddon {
  setThreads(threads: number): void;
  getThreads(): number;
  cacheSize(): number;
  clearCache(): void;
  version(): string;
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    shape: Int32Array,
    activation: number,
  ): number;
  conv2dBackpropInput(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    shape: Int32Array,
  ): number;
  conv2dBackpropFilter(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    shape: Int32Array,
  ): number;
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    batchA: number,
    batchB: number,
    m: number,
    k: number,
    n: number,
    transposeA: number,
    transposeB: number,
    activation: number,
  ): number;
  binary(
    op: number,
    a: Float32Array,
    aStrides: Int32Array,
    b: Float32Array,
    bStrides: Int32Array,
    outShape: Int32Array,
    out: Float32Array,
  ): number;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number, size: number): number;
  reduce(
    op: number,
    x: Float32Array,
    out: Float32Array,
    outer: number,
    r: number,
    inner: number,
  ): number;
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    epsilon: number,
    out: Float32Array,
    rows: number,
    channels: number,
  ): number;
  batchNormGrad(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    scale: Float32Array | null,
    dy: Float32Array,
    epsilon: number,
    rows: number,
    channels: number,
    dx: Float32Array | null,
    dmean: Float32Array,
    dvariance: Float32Array,
    dscale: Float32Array,
    doffset: Float32Array,
  ): number;
  /** Training-mode batch norm without scale: writes y and the batch mean and biased variance, and,
   * given the moving statistics, their new values (old - (old - batch) * rate, unbiased variance). */
  batchNormTrain(
    x: Float32Array,
    offset: Float32Array | null,
    epsilon: number,
    rows: number,
    channels: number,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    oldMean?: Float32Array,
    oldVariance?: Float32Array,
    rate?: number,
    newMean?: Float32Array,
    newVariance?: Float32Array,
  ): number;
  /** Gradient of batchNormTrain's y through x (batch statistics included) and offset. */
  batchNormTrainGrad(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dy: Float32Array,
    epsilon: number,
    rows: number,
    channels: number,
    dx: Float32Array,
    doffset: Float32Array,
  ): number;
  copy2d(
    src: Float32Array,
    srcOffset: number,
    srcPitch: number,
    dst: Float32Array,
    dstOffset: number,
    dstPitch: number,
    rows: number,
    cols: number,
  ): number;
  pool(kind: number, x: Float32Array, out: Float32Array, shape: Int32Array): number;
  adam(
    value: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    newValue: Float32Array,
    newM: Float32Array,
    newV: Float32Array,
    size: number,
    learningRate: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    epsilon: number,
    oneMinusAccBeta1: number,
    oneMinusAccBeta2: number,
  ): number;
  poolGrad(
    kind: number,
    dy: Float32Array,
    x: Float32Array | null,
    dx: Float32Array,
    shape: Int32Array,
  ): number;
  /** 1: kernels run on the kernel queue's thread from now on; 0: run what is queued, then on the
   * calling thread again. */
  setAsync(on: number): void;
  /** Returns once the kernel with this ticket has run; throws a queued kernel's error once. */
  wait(ticket: number): void;
  /** The last ticket that has run. */
  completed(): number;
  /** Milliseconds the kernel queue's thread has spent running kernels. */
  busyMs(): number;
}

/** Where node-gyp puts the addon, relative to this file (src/ or dist/). */
const ADDON_PATH = fileURLToPath(new URL('../build/Release/setrain_native.node', import.meta.url));

/** The command that builds the addon, for error messages. */
export const BUILD_COMMAND = 'npm run build:addon -w @setrain/engine-native';

let cached: NativeAddon | undefined;

/** Why the addon cannot load here (what to install or run), or undefined when it loads. */
export function nativeAddonUnavailableReason(): string | undefined {
  try {
    loadAddon();
    return undefined;
  } catch (error) {
    if (error instanceof NativeBackendError) return error.message;
    throw error;
  }
}

/** Loads the addon once, or throws a NativeBackendError that says what to install or run. */
export function loadAddon(): NativeAddon {
  if (cached !== undefined) return cached;
  if (!existsSync(ADDON_PATH)) {
    const hasHeaders = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
    throw hasHeaders
      ? new NativeBackendError(
          'ADDON_NOT_BUILT',
          `the native addon is not built (${ADDON_PATH} is missing): run ${BUILD_COMMAND}`,
        )
      : new NativeBackendError(
          'ONEDNN_MISSING',
          `the native addon is not built and oneDNN is missing: apt-get install libdnnl-dev, then run ${BUILD_COMMAND}`,
        );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(ADDON_PATH) as NativeAddon;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw text.includes('libdnnl')
      ? new NativeBackendError(
          'ONEDNN_MISSING',
          `the native addon cannot find libdnnl.so.2: apt-get install libdnnl-dev (${text})`,
          { cause: error },
        )
      : new NativeBackendError(
          'ADDON_LOAD_FAILED',
          `the native addon failed to load (${text}); rebuild it: ${BUILD_COMMAND}`,
          { cause: error },
        );
  }
  return cached;
}
