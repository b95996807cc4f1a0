/** Thrown when a Keras .h5 weights file does not fit the model: a tensor missing on either side, a
 * shape mismatch, or a file that is not in the Keras weights layout. */
export class KerasWeightsError extends Error {
  /** Stable code for callers that map errors to job failures. */
  readonly code = 'KERAS_WEIGHTS_MISMATCH';

  constructor(message: string) {
    super(message);
    this.name = 'KerasWeightsError';
  }
}
