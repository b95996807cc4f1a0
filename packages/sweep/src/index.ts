export * from './errors.js';
export * from './prng.js';
export * from './distributions.js';
export * from './types.js';
export { GridSampler } from './grid-sampler.js';
export { RandomSampler } from './random-sampler.js';
export { createSampler, gridSize, plannedTrialCount } from './sampler.js';
