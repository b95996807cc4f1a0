export * from './errors.js';
export * from './prng.js';
export * from './distributions.js';
export * from './types.js';
export { GridSampler } from './grid-sampler.js';
export { RandomSampler, sampleIndependent } from './random-sampler.js';
export { SobolSampler } from './sobol-sampler.js';
export {
  DEFAULT_TPE_CANDIDATES,
  DEFAULT_TPE_GAMMA,
  DEFAULT_TPE_PRIOR_WEIGHT,
  DEFAULT_TPE_STARTUP_TRIALS,
  TpeSampler,
} from './tpe-sampler.js';
export { SOBOL_MAX_DIMENSIONS, SobolSequence, type SobolOptions } from './sobol-sequence.js';
export { createSampler, gridSize, plannedTrialCount } from './sampler.js';
export * from './scheduler-types.js';
export { AshaScheduler } from './asha-scheduler.js';
export { HyperbandScheduler } from './hyperband-scheduler.js';
export { BohbSampler, DEFAULT_BOHB_RANDOM_FRACTION } from './bohb-sampler.js';
export { MedianStoppingScheduler } from './median-stopping-scheduler.js';
export {
  createScheduler,
  createSchedulerForSpec,
  maxTrialEpochs,
  type EarlyStoppingSpec,
} from './scheduler.js';
export { preview, type PreviewEntry, type PreviewOptions, type PreviewSpec } from './preview.js';
export {
  DEFAULT_PBT_PERTURBATION_FACTORS,
  DEFAULT_PBT_QUANTILE_FRACTION,
  DEFAULT_PBT_RESAMPLE_PROBABILITY,
  PbtScheduler,
  type PbtDecision,
  type PbtMember,
  type PbtOptions,
  type PbtQuantiles,
} from './pbt.js';
export { dominates, hypervolume2d, nondominatedRanks } from './pareto.js';
export { hypervolume, inferReferencePoint, REFERENCE_POINT_MARGIN } from './hypervolume.js';
export { MotpeSampler } from './motpe-sampler.js';
