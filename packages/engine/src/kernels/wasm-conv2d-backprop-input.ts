import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import {
  backpropConvInfo,
  wasmKernelConfig,
  chunkShape,
  convWindow,
  withDyChunk,
  type ChunkShape,
  type ConvWindow,
} from './wasm-conv-chunks.js';
import { imagesPerChunk, MAX_IM2COL_ELEMENTS, wasmMatMul } from './wasm-matmul.js';

/**
 * Conv2DBackpropInput for the wasm backend, replacing its direct loop (which took about 40% of
 * an SE-Inception v3 training step, more than the forward convolutions).
 *
 * The input gradient is col2im(dy[M, co] x W[K, co]^T): XNNPACK computes the patch gradients
 * D[M, K] (K = kh*kw*ci) and JS adds each patch row back onto the input positions it came from.
 */
function conv2dBackpropInputWasm(
  args: {
    inputs: { dy: TensorInfo; filter: TensorInfo };
    backend: BackendWasm;
    attrs: Conv2DBackpropInputAttrs;
  },
  maxIm2colElements: number,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { inputShape } = attrs;
  const info = backpropConvInfo(
    Conv2DBackpropInput,
    [dy, filter],
    { inputShape, filterShape: filter.shape as [number, number, number, number] },
    attrs,
  );
  const { batchSize, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } =
    info;
  const patchSize = filterHeight * filterWidth * inChannels;
  const patchesPerImage = outHeight * outWidth;
  const chunk = imagesPerChunk(batchSize, patchSize * patchesPerImage, maxIm2colElements);
  const matMul = wasmMatMul(false);
  // W[kh, kw, ci, co] is W[K, co] in memory; XNNPACK wants the right operand as [co, K] here.
  const filter3d = backend.makeOutput([1, outChannels, patchSize], 'float32');
  transpose(
    backend.typedArrayFromHeap(filter) as Float32Array,
    backend.typedArrayFromHeap(filter3d) as Float32Array,
    patchSize,
    outChannels,
  );

  const dx = backend.makeOutput([...inputShape], 'float32');
  for (let firstImage = 0; firstImage < batchSize; firstImage += chunk) {
    const images = Math.min(chunk, batchSize - firstImage);
    const patchGradients = withDyChunk(backend, dy, info, { firstImage, images }, (dyChunk) =>
      matMul(dyChunk, filter3d, backend),
    );
    // Views are taken after the last allocation: growing the wasm heap detaches older ones.
    addCol2im(
      backend.typedArrayFromHeap(dx) as Float32Array,
      backend.typedArrayFromHeap(patchGradients) as Float32Array,
      chunkShape(info, firstImage, images),
      convWindow(info),
    );
    backend.disposeData(patchGradients.dataId);
  }
  backend.disposeData(filter3d.dataId);
  return dx;
}

/** to[c, r] = from[r, c] for a rows x columns matrix. */
function transpose(from: Float32Array, to: Float32Array, rows: number, columns: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) to[c * rows + r] = from[r * columns + c] ?? 0;
  }
}

/** Sets dx for the chunk's images to the sum of the patch gradients D[m, k] covering each pixel. */
function addCol2im(
  dx: Float32Array,
  patchGradients: Float32Array,
  shape: ChunkShape,
  window: ConvWindow,
): void {
  const { firstImage, images, inHeight, inWidth, inChannels, outHeight, outWidth } = shape;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft } = window;
  const imageSize = inHeight * inWidth * inChannels;
  const patchSize = filterHeight * filterWidth * inChannels;
  dx.fill(0, firstImage * imageSize, (firstImage + images) * imageSize);
  let row = 0;
  for (let b = 0; b < images; b++) {
    const imageBase = (firstImage + b) * imageSize;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, row += patchSize) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - padTop;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - padLeft;
            if (iw < 0 || iw >= inWidth) continue;
            const to = imageBase + (ih * inWidth + iw) * inChannels;
            const from = row + (kh * filterWidth + kw) * inChannels;
            for (let c = 0; c < inChannels; c++) {
              dx[to + c] = (dx[to + c] ?? 0) + (patchGradients[from + c] ?? 0);
            }
          }
        }
      }
    }
  }
}

/**
 * The kernel's registration. `maxIm2colElements` bounds the patch-gradient matrix (tests lower
 * it to exercise the chunked path); register after @tensorflow/tfjs-backend-wasm is imported.
 */
export function createWasmConv2dBackpropInputConfig(
  maxIm2colElements: number = MAX_IM2COL_ELEMENTS,
): KernelConfig {
  return wasmKernelConfig(
    Conv2DBackpropInput,
    (args: Parameters<typeof conv2dBackpropInputWasm>[0]) =>
      conv2dBackpropInputWasm(args, maxIm2colElements),
  );
}
