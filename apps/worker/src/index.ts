export * from './config.js';
export * from './worker-error.js';
export * from './logger.js';
export * from './seeded-random.js';
export * from './image-cache.js';
export * from './image-decode.js';
export * from './decoded-cache.js';
export * from './cache-budget.js';
export * from './trial-data.js';
export * from './data-pipeline.js';
export * from './objective.js';
export * from './trial-record.js';
export type * from './trial-ipc.js';
export { WORKER_PACKAGE_VERSION } from './package-version.js';
// The job holder: the BullMQ side of a worker process.
export * from './job-holder/trial-job-processor.js';
export * from './job-holder/trainer-launcher.js';
export * from './job-holder/trial-state-store.js';
export * from './job-holder/control-subscriber.js';
export * from './job-holder/worker-runtime.js';
export * from './job-holder/heartbeat.js';
export * from './job-holder/early-stopping.js';
// The trainer: the child process that trains one trial.
export * from './trainer/eval-metrics.js';
export * from './trainer/checkpoints.js';
export { runTrial } from './trainer/run-trial.js';
export { chooseHeadActivation } from './trainer/build-model.js';
export type { TrialChannel } from './trainer/trial-context.js';
