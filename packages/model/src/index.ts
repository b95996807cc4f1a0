export { ModelArgsError } from './model-args-error.js';
export { KerasWeightsError } from './keras-weights-error.js';
export { DEFAULT_SEED, validateSeInceptionV3Args } from './validate-args.js';
export {
  DEFAULT_BN_EPSILON,
  DEFAULT_BN_MOMENTUM,
  ScaleFreeBatchNormalization,
  type ScaleFreeBatchNormalizationArgs,
} from './scale-free-batch-normalization.js';
export {
  BATCH_NORM_TRAINING_GRAD_KERNEL,
  BATCH_NORM_TRAINING_KERNEL,
  batchNormTraining,
  type BatchNormTrainingAttrs,
  type BatchNormTrainingResult,
  type MovingStatistics,
} from './batch-norm-training.js';
export {
  buildInceptionV3Backbone,
  INCEPTION_V3_BLOCKS,
  INCEPTION_V3_FEATURE_CHANNELS,
  isInceptionV3WeightLayer,
  type InceptionV3BackboneOptions,
  type InceptionV3BlockName,
} from './inception-v3.js';
export {
  buildSeInceptionV3,
  PREDICTIONS_LAYER_NAME,
  PREPROCESSING_RESCALE,
  SE_INCEPTION_V3_MODEL_NAME,
  seBottleneckUnits,
} from './se-inception-v3.js';
export { seedDropoutForStep } from './dropout-seeds.js';
export { countParams, type ParamCount, type SeInceptionV3ParamCounts } from './count-params.js';
export {
  EXPORTED_KERAS_VERSION,
  exportKerasWeights,
  importKerasWeights,
  type ImportKerasWeightsOptions,
  type KerasWeightsImportReport,
} from './keras-weights.js';
export {
  DEFAULT_RECALIBRATION_BATCHES,
  recalibrateBatchNorm,
  type RecalibrationReport,
} from './recalibrate-batch-norm.js';
export {
  PORTABLE_BATCH_NORM_CLASS,
  portableSaveHandler,
  toPortableTopology,
} from './portable-topology.js';
export { releaseConsumedOutputsInTraining } from './training-forward-release.js';
