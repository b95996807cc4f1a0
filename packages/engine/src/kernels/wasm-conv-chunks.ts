import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The wasm backend's registration of `run`, which takes its op's own inputs and attributes. */
export function wasmKernelConfig(
  kernelName: string,
  run: (args: never) => TensorInfo,
): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    // KernelFunc types backend as KernelBackend and attrs as NamedAttrMap; this kernel only ever
    // runs on BackendWasm, given its op's attributes.
    kernelFunc: run as unknown as KernelFunc,
  };
}

/** A 4-d shape, as tfjs's Conv2DInfo takes it. */
type Shape4 = [number, number, number, number];

/** The attributes both backprop kernels read (the same in tfjs's Filter and Input attrs). */
type BackpropAttrs = Pick<
  Conv2DBackpropFilterAttrs,
  'strides' | 'pad' | 'dataFormat' | 'dimRoundingMode'
>;

/**
 * What both backprop kernels do first: refuse what they do not support (a non-float32 tensor,
 * NCHW), then compute tfjs's Conv2DInfo for the forward convolution of `inputShape` by
 * `filterShape`. Errors name `kernelName`.
 */
export function backpropConvInfo(
  kernelName: string,
  tensors: readonly [TensorInfo, TensorInfo],
  shapes: { inputShape: Shape4; filterShape: Shape4 },
  attrs: BackpropAttrs,
): backend_util.Conv2DInfo {
  const [a, b] = tensors;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`${kernelName} (wasm) needs float32 tensors, got ${a.dtype} and ${b.dtype}`);
  }
  const channelFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
  if (channelFormat !== 'channelsLast') {
    throw new Error(`${kernelName} (wasm) supports NHWC only, got ${attrs.dataFormat}`);
  }
  return backend_util.computeConv2DInfo(
    shapes.inputShape,
    shapes.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    channelFormat,
  );
}

/** The images of one chunk of a batch, and the convolution's input and output sizes. */
export interface ChunkShape {
  firstImage: number;
  images: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
}

/** The convolution window: filter size, strides and the padding before the first row/column. */
export interface ConvWindow {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** The chunk's shape for images firstImage..firstImage+images-1 of a convolution. */
export function chunkShape(
  info: backend_util.Conv2DInfo,
  firstImage: number,
  images: number,
): ChunkShape {
  const { inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  return { firstImage, images, inHeight, inWidth, inChannels, outHeight, outWidth };
}

/** The window of a convolution. */
export function convWindow(info: backend_util.Conv2DInfo): ConvWindow {
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  return {
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    padTop: padInfo.top,
    padLeft: padInfo.left,
  };
}

/**
 * Runs `multiply` on the chunk's rows of dy (NHWC, so [batch * oh * ow, co] in memory) as a
 * [1, rows, co] tensor and returns its result. The whole batch shares dy's data; a smaller chunk
 * is copied out and freed after.
 */
export function withDyChunk(
  backend: BackendWasm,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  chunk: { firstImage: number; images: number },
  multiply: (dyChunk: TensorInfo) => TensorInfo,
): TensorInfo {
  const rowsPerImage = info.outHeight * info.outWidth;
  const rows = chunk.images * rowsPerImage;
  const shape = [1, rows, info.outChannels];
  if (chunk.images === info.batchSize) {
    return multiply({ dataId: dy.dataId, shape, dtype: 'float32' });
  }
  const dyChunk = backend.makeOutput(shape, 'float32');
  const start = chunk.firstImage * rowsPerImage * info.outChannels;
  (backend.typedArrayFromHeap(dyChunk) as Float32Array).set(
    (backend.typedArrayFromHeap(dy) as Float32Array).subarray(
      start,
      start + rows * info.outChannels,
    ),
  );
  const result = multiply(dyChunk);
  backend.disposeData(dyChunk.dataId);
  return result;
}
