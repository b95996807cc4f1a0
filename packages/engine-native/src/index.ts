export { nativeAddonUnavailableReason } from './addon.js';
export {
  DEFAULT_NATIVE_PRIORITY,
  loadNativeBackend,
  type NativeBackendInfo,
  type NativeBackendOptions,
} from './load-native-backend.js';
export { NATIVE_BACKEND_NAME } from './kernels/kernel-utils.js';
export { NativeBackend } from './native-backend.js';
export { NativeBackendError, type NativeBackendErrorCode } from './native-backend-error.js';
