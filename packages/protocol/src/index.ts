export * from './model-args.js';
