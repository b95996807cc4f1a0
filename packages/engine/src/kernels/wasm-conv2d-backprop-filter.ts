import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
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
 * Conv2DBackpropFilter for the wasm backend, which ships without it (tensorflow/tfjs#8474).
 *
 * The filter gradient of an NHWC convolution is dW[kh,kw,ci,co] = sum over (b,oh,ow) of
 * x[b, oh*sh+kh-padTop, ow*sw+kw-padLeft, ci] * dy[b,oh,ow,co]. This builds the transposed
 * im2col matrix P[K=kh*kw*ci, M=b*oh*ow] in JS and multiplies P x dy[M, co] with the wasm
 * backend's own BatchMatMul kernel (XNNPACK), instead of the naive Conv3DBackpropFilterV2.
 */
function conv2dBackpropFilterWasm(
  args: {
    inputs: { x: TensorInfo; dy: TensorInfo };
    backend: BackendWasm;
    attrs: Conv2DBackpropFilterAttrs;
  },
  maxIm2colElements: number,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { filterShape } = attrs;
  const info = backpropConvInfo(
    Conv2DBackpropFilter,
    [x, dy],
    { inputShape: x.shape as [number, number, number, number], filterShape },
    attrs,
  );
  const { batchSize, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const rows = filterHeight * filterWidth * inChannels;
  const columnsPerImage = outHeight * outWidth;
  const chunk = imagesPerChunk(batchSize, rows * columnsPerImage, maxIm2colElements);
  const matMul = wasmMatMul(false);

  let result: TensorInfo | undefined;
  let accumulated: Float32Array | undefined;
  for (let firstImage = 0; firstImage < batchSize; firstImage += chunk) {
    const images = Math.min(chunk, batchSize - firstImage);
    const columns = images * columnsPerImage;
    const patches = backend.makeOutput([1, rows, columns], 'float32');
    // Views into the wasm heap are taken after every allocation: growing the heap detaches them.
    fillTransposedIm2col(
      backend.typedArrayFromHeap(patches) as Float32Array,
      backend.typedArrayFromHeap(x) as Float32Array,
      chunkShape(info, firstImage, images),
      convWindow(info),
    );
    const gradient = withDyChunk(backend, dy, info, { firstImage, images }, (dyChunk) =>
      matMul(patches, dyChunk, backend),
    );
    backend.disposeData(patches.dataId);
    if (images === batchSize) {
      result = gradient;
    } else {
      const values = backend.typedArrayFromHeap(gradient) as Float32Array;
      if (accumulated === undefined) accumulated = Float32Array.from(values);
      else
        for (let i = 0; i < values.length; i++)
          accumulated[i] = (accumulated[i] ?? 0) + (values[i] ?? 0);
      backend.disposeData(gradient.dataId);
    }
  }
  if (result === undefined) {
    result = backend.makeOutput([...filterShape], 'float32');
    (backend.typedArrayFromHeap(result) as Float32Array).set(accumulated ?? new Float32Array(0));
  }
  return { dataId: result.dataId, shape: [...filterShape], dtype: 'float32' };
}

/** Writes P[k, m] with k = (kh*fw + kw)*ci + c and m = (b*oh + y)*ow + x; zero where padded. */
function fillTransposedIm2col(
  patches: Float32Array,
  x: Float32Array,
  input: ChunkShape,
  window: ConvWindow,
): void {
  const { firstImage, images, inHeight, inWidth, inChannels, outHeight, outWidth } = input;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft } = window;
  const imageSize = inHeight * inWidth * inChannels;
  const rowStride = inWidth * inChannels;
  const pixelStride = strideWidth * inChannels;
  let out = 0;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      // Output columns whose input column lies inside the image, for this kw.
      const owStart = Math.max(0, Math.ceil((padLeft - kw) / strideWidth));
      const owEnd = Math.min(outWidth, Math.floor((inWidth - 1 + padLeft - kw) / strideWidth) + 1);
      for (let c = 0; c < inChannels; c++) {
        for (let b = 0; b < images; b++) {
          const imageBase = (firstImage + b) * imageSize + c;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight + kh - padTop;
            if (ih < 0 || ih >= inHeight || owEnd <= owStart) {
              patches.fill(0, out, out + outWidth);
              out += outWidth;
              continue;
            }
            if (owStart > 0) patches.fill(0, out, out + owStart);
            let src =
              imageBase + ih * rowStride + (owStart * strideWidth + kw - padLeft) * inChannels;
            for (let ow = owStart; ow < owEnd; ow++) {
              patches[out + ow] = x[src] ?? 0;
              src += pixelStride;
            }
            if (owEnd < outWidth) patches.fill(0, out + owEnd, out + outWidth);
            out += outWidth;
          }
        }
      }
    }
  }
}

/**
 * The kernel's registration. `maxIm2colElements` bounds the im2col matrix (tests lower it to
 * exercise the chunked path); register after @tensorflow/tfjs-backend-wasm is imported.
 */
export function createWasmConv2dBackpropFilterConfig(
  maxIm2colElements: number = MAX_IM2COL_ELEMENTS,
): KernelConfig {
  return wasmKernelConfig(
    Conv2DBackpropFilter,
    (args: Parameters<typeof conv2dBackpropFilterWasm>[0]) =>
      conv2dBackpropFilterWasm(args, maxIm2colElements),
  );
}
