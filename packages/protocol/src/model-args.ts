/**
 * The allowed values and defaults of the SE-Inception v3 model arguments. They live here, in the
 * protocol package, because the API validates sweep specs against them and the model package
 * builds from them; neither re-declares them.
 */

/** Where squeeze-and-excitation blocks go: `top` (the seed: one block on the final feature map) or
 * `every-block` (after each of mixed0..mixed10, as in the SENet paper's SE-Inception). */
export const SE_PLACEMENTS = ['top', 'every-block'] as const;
export type SePlacement = (typeof SE_PLACEMENTS)[number];

/** Output activation: `sigmoid` for multi-label (the seed), `softmax` for single-label. */
export const HEAD_ACTIVATIONS = ['sigmoid', 'softmax'] as const;
export type HeadActivation = (typeof HEAD_ACTIVATIONS)[number];

/** Input scaling built into the model, so callers feed raw 0..255 pixels: `inception` is
 * x / 127.5 - 1 (what the ImageNet weights expect), `unit` is x / 255 (the seed). */
export const PREPROCESSINGS = ['inception', 'unit'] as const;
export type Preprocessing = (typeof PREPROCESSINGS)[number];

/** Smallest input side InceptionV3 accepts (its stem and reductions need 75 pixels). */
export const MIN_INPUT_SIZE = 75;
/** Largest input side we accept; larger images only cost memory with no accuracy gain. */
export const MAX_INPUT_SIZE = 1024;

export const DEFAULT_INPUT_SIZE = 299;
/** SE reduction ratio: the bottleneck has floor(channels / seRatio) units (seed: 2048 // 11 = 186). */
export const DEFAULT_SE_RATIO = 11;
export const MIN_SE_RATIO = 1;
export const MAX_SE_RATIO = 2048;
export const DEFAULT_DROPOUT = 0.6;
export const DEFAULT_SE_PLACEMENT: SePlacement = 'top';
export const DEFAULT_HEAD_ACTIVATION: HeadActivation = 'sigmoid';
export const DEFAULT_PREPROCESSING: Preprocessing = 'inception';
export const MAX_NUM_CLASSES = 100_000;

/** Arguments of the SE-Inception v3 builder. Every field but numClasses has a documented default. */
export interface SeInceptionV3Args {
  /** Side of the square input in pixels, MIN_INPUT_SIZE..MAX_INPUT_SIZE. Default 299. */
  inputSize?: number;
  /** Number of output classes, >= 1. */
  numClasses: number;
  /** SE reduction ratio (integer >= 1). Default 11. */
  seRatio?: number;
  /** Dropout rate before the classifier, in [0, 1). Default 0.6. */
  dropout?: number;
  /** Default `top`. */
  sePlacement?: SePlacement;
  /** Default `sigmoid`. */
  headActivation?: HeadActivation;
  /** Default `inception`. */
  preprocessing?: Preprocessing;
  /** Seed for weight initialisers, so two builds with the same seed are identical. Default 0. */
  seed?: number;
}
