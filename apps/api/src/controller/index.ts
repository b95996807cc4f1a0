export * from './budget.js';
export { failureStatus } from './job-outcome.js';
export * from './options.js';
export * from './sweep-controller.js';
export * from './sweep-lock.js';
export * from './trial-cache.js';
export { CheckpointCopyError, copyCheckpoint } from './pbt-checkpoint.js';
export { PbtStepper } from './pbt-stepper.js';
export { TrialEnqueuer } from './trial-enqueuer.js';
