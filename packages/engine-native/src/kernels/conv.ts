import { backend_util, type KernelConfig } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from '../addon.js';
import {
  ACTIVATION_LINEAR,
  ACTIVATION_RELU,
  float32Values,
  makeOutput,
  nativeKernel,
  outputArray,
  sizeOf,
} from './kernel-utils.js';

type Conv2DInfo = backend_util.Conv2DInfo;

// A type alias, not an interface, so that it fits NamedAttrMap (see NativeKernelImpl).
type ConvAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
};

/** The 17 numbers csrc/common.h's ConvShape reads. */
function convShape(info: Conv2DInfo): Int32Array {
  const { padInfo } = info;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    padInfo.top,
    padInfo.left,
    padInfo.bottom,
    padInfo.right,
  ]);
}

/** oneDNN needs non-negative padding that reproduces tfjs' output size exactly. */
function supported(info: Conv2DInfo): boolean {
  const { padInfo } = info;
  if (info.dataFormat !== 'channelsLast') return false;
  if (padInfo.top < 0 || padInfo.left < 0 || padInfo.bottom < 0 || padInfo.right < 0) return false;
  const effH = (info.filterHeight - 1) * info.dilationHeight + 1;
  const effW = (info.filterWidth - 1) * info.dilationWidth + 1;
  const oh =
    Math.floor((info.inHeight + padInfo.top + padInfo.bottom - effH) / info.strideHeight) + 1;
  const ow =
    Math.floor((info.inWidth + padInfo.left + padInfo.right - effW) / info.strideWidth) + 1;
  return oh === info.outHeight && ow === info.outWidth;
}

function forwardInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs): Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
}

export function convKernels(addon: NativeAddon): KernelConfig[] {
  const conv2d = nativeKernel('Conv2D', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, filter } = inputs;
    const xv = float32Values(cpu, x);
    const wv = float32Values(cpu, filter);
    if (x === undefined || filter === undefined || xv === undefined || wv === undefined)
      return null;
    const info = forwardInfo(x.shape, filter.shape, attrs as ConvAttrs);
    if (!supported(info)) return null;
    const out = outputArray(cpu, sizeOf(info.outShape));
    addon.conv2d(xv, wv, null, out, convShape(info), ACTIVATION_LINEAR);
    return makeOutput(cpu, info.outShape, out);
  });

  const fusedConv2d = nativeKernel('FusedConv2D', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, filter, bias, preluActivationWeights } = inputs;
    const a = attrs as ConvAttrs;
    const xv = float32Values(cpu, x);
    const wv = float32Values(cpu, filter);
    if (x === undefined || filter === undefined || xv === undefined || wv === undefined)
      return null;
    if (preluActivationWeights !== undefined) return null;
    const activation = a.activation ?? 'linear';
    if (activation !== 'linear' && activation !== 'relu') return null;
    const info = forwardInfo(x.shape, filter.shape, a);
    if (!supported(info)) return null;
    let bv: Float32Array | null = null;
    if (bias !== undefined) {
      const values = float32Values(cpu, bias);
      if (values === undefined || values.length !== info.outChannels) return null;
      bv = values;
    }
    const out = outputArray(cpu, sizeOf(info.outShape));
    addon.conv2d(
      xv,
      wv,
      bv,
      out,
      convShape(info),
      activation === 'relu' ? ACTIVATION_RELU : ACTIVATION_LINEAR,
    );
    return makeOutput(cpu, info.outShape, out);
  });

  const backpropInput = nativeKernel('Conv2DBackpropInput', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { dy, filter } = inputs;
    const a = attrs as ConvAttrs;
    const dyv = float32Values(cpu, dy);
    const wv = float32Values(cpu, filter);
    if (filter === undefined || dyv === undefined || wv === undefined || a.inputShape === undefined)
      return null;
    const info = forwardInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
    if (!supported(info)) return null;
    const dx = outputArray(cpu, sizeOf(info.inShape));
    addon.conv2dBackpropInput(dyv, wv, dx, convShape(info));
    return makeOutput(cpu, [...a.inputShape], dx);
  });

  const backpropFilter = nativeKernel('Conv2DBackpropFilter', ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, dy } = inputs;
    const a = attrs as ConvAttrs;
    const xv = float32Values(cpu, x);
    const dyv = float32Values(cpu, dy);
    if (x === undefined || xv === undefined || dyv === undefined || a.filterShape === undefined)
      return null;
    const info = forwardInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
    if (!supported(info)) return null;
    const dw = outputArray(cpu, sizeOf(a.filterShape));
    addon.conv2dBackpropFilter(xv, dyv, dw, convShape(info));
    return makeOutput(cpu, [...a.filterShape], dw);
  });

  return [conv2d, fusedConv2d, backpropInput, backpropFilter];
}
