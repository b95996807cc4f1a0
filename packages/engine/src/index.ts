export { ENGINE_ERROR_CODES, EngineError, type EngineErrorCode } from './engine-error.js';
export {
  BACKEND_NAMES,
  DEFAULT_ENGINE,
  ENGINE_NAMES,
  isEngineName,
  parseEngineName,
  type BackendName,
  type EngineName,
} from './engine-names.js';
export { ENGINE_LOADERS } from './engines.js';
export { DEFAULT_WEBGPU_TIMEOUT_MS, DEFAULT_XDG_RUNTIME_DIR, initEngine } from './init-engine.js';
export { createWasmConv2dBackpropFilterConfig } from './kernels/wasm-conv2d-backprop-filter.js';
export { createWasmConv2dBackpropInputConfig } from './kernels/wasm-conv2d-backprop-input.js';
export { MAX_IM2COL_ELEMENTS } from './kernels/wasm-matmul.js';
export {
  registerWasmKernels,
  WASM_MISSING_KERNELS,
  WASM_REPLACED_KERNELS,
} from './kernels/register-wasm-kernels.js';
export { NATIVE_ENGINE_PACKAGE } from './loaders/native.js';
export { TFJS_NODE_PACKAGES } from './loaders/tensorflow.js';
export type {
  EngineInfo,
  EngineLoadContext,
  EngineLoader,
  InitEngineOptions,
  LoadedEngine,
  SkippedEngine,
} from './types.js';
