// Public entry of the test harness: import from '../harness/index.js' (test/*.test.ts) or
// '../test/harness/index.js' (scripts/). Every service helper returns an object with stop().
export * from './harness-error.js';
export * from './binary-missing-error.js';
export * from './service-start-error.js';
export * from './wait-timeout-error.js';
export * from './binaries.js';
export * from './free-port.js';
export * from './temp-dir.js';
export * from './unique-name.js';
export * from './wait-for.js';
export * from './service-process.js';
export * from './node-service.js';
export * from './redis.js';
export * from './s3.js';
export * from './prometheus.js';
export * from './cutting-proxy.js';
export * from './outage-proxy.js';
