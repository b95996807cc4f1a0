/** Stable codes for {@link EngineError}; callers branch on these, never on messages. */
export const ENGINE_ERROR_CODES = [
  /** The requested engine name is not one of ENGINE_NAMES. */
  'ENGINE_UNKNOWN',
  /** An option passed to initEngine is out of range. */
  'ENGINE_INVALID_OPTION',
  /** The named engine could not be loaded here; the message says why. */
  'ENGINE_UNAVAILABLE',
  /** `auto` found no engine that loads (not even cpu). */
  'ENGINE_NONE_AVAILABLE',
] as const;

export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

/** Error raised by the engine package; `code` is stable, `message` is for people. */
export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
