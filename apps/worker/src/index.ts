export * from './config.js';
export * from './worker-error.js';
export * from './logger.js';
export * from './seeded-random.js';
export * from './image-cache.js';
export * from './data-pipeline.js';
export * from './eval-metrics.js';
export * from './checkpoints.js';
export type * from './trial-ipc.js';
export {
  runTrial,
  bestEpochOf,
  objectiveOf,
  chooseHeadActivation,
  type TrialChannel,
} from './train-trial.js';
export * from './trial-process.js';
export * from './trial-state-store.js';
export * from './processor.js';
export * from './control-subscriber.js';
export * from './runtime.js';
export { WORKER_PACKAGE_VERSION } from './package-version.js';
