/**
 * Estimates a trial's peak training memory from its parameters, so the API can refuse a spec whose
 * search space reaches past the budget per trial (SETRAIN_MAX_TRIAL_MEMORY_BYTES) and a worker can
 * re-check a trial before it trains. The formula, and how it was calibrated, is in the README
 * (Security); `npm run bench:memory` measures peak RSS against it.
 *
 *   total = runtime + parameters x bytesPerParameter + activationCopies x 4 x batchSize x A(inputSize)
 *
 * A(s) is the number of layer-output elements of one image at input side s, counted exactly from
 * the network's structure (Inception v3 reduces the side with valid 3x3 convolutions and pools).
 */
import {
  DEFAULT_INPUT_SIZE,
  DEFAULT_SE_PLACEMENT,
  DEFAULT_SE_RATIO,
  type SePlacement,
} from './model-args.js';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_MOMENTUM,
  DEFAULT_OPTIMIZER,
  type OptimizerName,
} from './training.js';

/** Default budget per trial: 12 GiB, three quarters of the CPU worker's 16 GiB limit (infra/k8s). */
export const DEFAULT_MAX_TRIAL_MEMORY_BYTES = 12 * 2 ** 30;

/** Parameters of the Keras Inception v3 backbone (convolutions and batch norms, no top). */
export const BACKBONE_PARAMETERS = 21_802_784;
/** Channels of the feature map after mixed0..mixed10 (where `every-block` puts SE blocks). */
const MIXED_CHANNELS = [256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048] as const;
/** Channels of the final feature map (the `top` SE block and the classifier's input). */
const TOP_CHANNELS = 2048;
const FLOAT32_BYTES = 4;

/**
 * Layer-output elements per spatial position of each stage of the network, by the side of the
 * stage's feature map (counted from a built model with `countLayerOutputs`-style sums over
 * `layer.outputShape`): the input and its scaling, the stem's convolutions (each conv, batch norm
 * and relu), then the inception blocks at 35, 17 and 8 pixels for a 299-pixel input.
 */
const STAGE_ELEMENTS: Record<SePlacement, readonly number[]> = {
  top: [6, 96, 288, 304, 576, 6608, 31_680, 35_712],
  'every-block': [6, 96, 288, 304, 576, 7440, 35_520, 39_040],
};

/** Node, tfjs and the trial process's libraries with no model built, plus room for the data
 * pipeline's buffers (calibrated as described in the file comment: 256 MiB measured, 384 used). */
const RUNTIME_BYTES = 384 * 2 ** 20;
/** Live copies of the layer outputs at the peak of a step (forward outputs, their gradients and
 * the temporaries of the backward pass), calibrated like RUNTIME_BYTES. */
const ACTIVATION_COPIES = 2.5;

/** What a trial's memory depends on; unset fields take the spec defaults. */
export interface TrialMemoryParams {
  readonly inputSize?: number | undefined;
  readonly batchSize?: number | undefined;
  readonly seRatio?: number | undefined;
  readonly sePlacement?: SePlacement | undefined;
  readonly optimizer?: OptimizerName | undefined;
  readonly momentum?: number | undefined;
  /** Classes of the dataset when known (the classifier has 2049 parameters per class); default 1. */
  readonly numClasses?: number | undefined;
}

/** The estimate and its parts, in bytes. */
export interface TrialMemoryEstimate {
  readonly totalBytes: number;
  readonly runtimeBytes: number;
  readonly parameterBytes: number;
  readonly activationBytes: number;
  readonly parameters: number;
}

/** Side of a feature map after a valid 3x3 convolution or pool with stride 2. */
const reduce = (side: number): number => Math.floor((side - 3) / 2) + 1;

/** Sides of each stage's feature maps for an input side (see STAGE_ELEMENTS). */
export function stageSides(inputSize: number): number[] {
  const s1 = reduce(inputSize);
  const s2 = s1 - 2;
  const s4 = reduce(s2);
  const s6 = s4 - 2;
  const s7 = reduce(s6);
  const s8 = reduce(s7);
  const s9 = reduce(s8);
  return [inputSize, s1, s2, s4, s6, s7, s8, s9];
}

/** The 1x1xC gates of the SE blocks (one per block, C channels each). */
const SE_GATE_ELEMENTS: Record<SePlacement, number> = {
  top: TOP_CHANNELS,
  'every-block': MIXED_CHANNELS.reduce((sum, c) => sum + c, 0),
};

/** Elements of the feature maps (rank-4 layer outputs) of one image; the few thousand of the
 * dense layers are left out. */
export function layerOutputElements(inputSize: number, sePlacement: SePlacement): number {
  const sides = stageSides(inputSize);
  return STAGE_ELEMENTS[sePlacement].reduce(
    (sum, perPixel, i) => sum + perPixel * Math.max(1, sides[i] ?? 1) ** 2,
    SE_GATE_ELEMENTS[sePlacement],
  );
}

const seBlockParameters = (channels: number, seRatio: number): number => {
  const units = Math.max(1, Math.floor(channels / seRatio));
  return 2 * channels * units + units + channels;
};

/** Parameters of SE-Inception v3 (backbone, SE blocks, classifier), as `countParams` counts them. */
export function seInceptionParameters(
  seRatio: number,
  sePlacement: SePlacement,
  numClasses: number,
): number {
  const se =
    sePlacement === 'top'
      ? seBlockParameters(TOP_CHANNELS, seRatio)
      : MIXED_CHANNELS.reduce((sum, c) => sum + seBlockParameters(c, seRatio), 0);
  return BACKBONE_PARAMETERS + se + (TOP_CHANNELS + 1) * numClasses;
}

/** Float32 copies per parameter during training: weights, gradients and optimizer slots. */
function copiesPerParameter(optimizer: OptimizerName, momentum: number): number {
  switch (optimizer) {
    case 'adam':
      return 4; // first and second moments
    case 'rmsprop':
      return 4; // mean squares and moments
    case 'sgd':
      return momentum > 0 ? 3 : 2; // one accumulator with momentum
  }
}

/** The estimated peak memory of training one trial with these parameters (native engine). */
export function estimateTrialMemory(params: TrialMemoryParams): TrialMemoryEstimate {
  const inputSize = params.inputSize ?? DEFAULT_INPUT_SIZE;
  const batchSize = params.batchSize ?? DEFAULT_BATCH_SIZE;
  const sePlacement = params.sePlacement ?? DEFAULT_SE_PLACEMENT;
  const parameters = seInceptionParameters(
    params.seRatio ?? DEFAULT_SE_RATIO,
    sePlacement,
    params.numClasses ?? 1,
  );
  const parameterBytes =
    parameters *
    FLOAT32_BYTES *
    copiesPerParameter(params.optimizer ?? DEFAULT_OPTIMIZER, params.momentum ?? DEFAULT_MOMENTUM);
  const activationBytes =
    ACTIVATION_COPIES * FLOAT32_BYTES * batchSize * layerOutputElements(inputSize, sePlacement);
  const runtimeBytes = RUNTIME_BYTES;
  return {
    totalBytes: runtimeBytes + parameterBytes + activationBytes,
    runtimeBytes,
    parameterBytes,
    activationBytes,
    parameters,
  };
}
