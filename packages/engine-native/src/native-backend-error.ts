/** Why the native backend cannot be used on this machine. */
export type NativeBackendErrorCode =
  | 'ADDON_NOT_BUILT'
  | 'ONEDNN_MISSING'
  | 'ADDON_LOAD_FAILED'
  /** A kernel run on the kernel queue's thread failed; raised where its result is next read. */
  | 'KERNEL_FAILED';

/** Thrown by loadNativeBackend when the addon cannot be loaded, and where a queued kernel's failure
 * surfaces; the message says what to do. */
export class NativeBackendError extends Error {
  readonly code: NativeBackendErrorCode;

  constructor(code: NativeBackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeBackendError';
    this.code = code;
  }
}
