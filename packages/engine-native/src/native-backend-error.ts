/** Why the native backend cannot be used on this machine. */
export type NativeBackendErrorCode = 'ADDON_NOT_BUILT' | 'ONEDNN_MISSING' | 'ADDON_LOAD_FAILED';

/** Thrown by loadNativeBackend when the addon cannot be loaded; the message says how to fix it. */
export class NativeBackendError extends Error {
  readonly code: NativeBackendErrorCode;

  constructor(code: NativeBackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeBackendError';
    this.code = code;
  }
}
