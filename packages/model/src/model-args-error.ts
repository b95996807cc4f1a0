/** Thrown by validateSeInceptionV3Args when a model argument is out of range or not allowed. */
export class ModelArgsError extends Error {
  /** Stable code for callers that map errors to HTTP answers or job failures. */
  readonly code = 'MODEL_ARGS_INVALID';

  constructor(
    /** The offending field of SeInceptionV3Args. */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelArgsError';
  }
}
