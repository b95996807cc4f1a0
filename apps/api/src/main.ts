import { loggerOptions, redisTargetOf, watchRedisReachability } from '@setrain/protocol';
import { createS3Client } from '@setrain/storage';
import { Redis } from 'ioredis';
import { pino } from 'pino';

import { API_REDIS_OPTIONS } from './api-redis.js';
import { buildApp } from './app.js';
import { ApiKeyVerifier } from './auth.js';
import { loadConfig } from './config.js';
import { readKeys, watchKeys } from './key-reload.js';
import { connectWhenReachable } from './redis-startup.js';

/** A shutdown that takes longer (e.g. Redis gone, so BullMQ cannot close cleanly) is forced. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

// Wiring only: config -> dependencies -> app -> listen; SIGTERM/SIGINT close everything.
const config = loadConfig();
const log = pino(loggerOptions(config.logLevel, { service: 'api' }));
const redis = new Redis(config.redisUrl, { ...config.redisSentinel, ...API_REDIS_OPTIONS });
const redisTarget = redisTargetOf(config.redisUrl, config.redisSentinel);
watchRedisReachability(redis, { target: redisTarget, connection: 'api', log });
await connectWhenReachable(redis);
const s3 = createS3Client(config.s3);
const verifier = new ApiKeyVerifier(readKeys(config.apiKeysFile, config.apiKeys));
const app = await buildApp({
  redis,
  redisTarget,
  s3,
  keyPrefix: config.keyPrefix,
  artifactsBucket: config.artifactsBucket,
  dataBuckets: config.dataBuckets,
  maxTrialMemoryBytes: config.maxTrialMemoryBytes,
  metricsToken: config.metricsToken,
  verifier,
  bodyLimitBytes: config.bodyLimitBytes,
  reconcileIntervalMs: config.reconcileIntervalMs,
  presignExpiresSeconds: config.presignExpiresSeconds,
  sweepRetentionSeconds: config.sweepRetentionSeconds,
  webhooks: config.webhooks,
  loggerInstance: log,
});

const stopWatchingKeys =
  config.apiKeysFile === undefined
    ? () => undefined
    : watchKeys(verifier, config.apiKeysFile, config.apiKeys, app.log);

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  setTimeout(() => {
    app.log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS).unref();
  stopWatchingKeys();
  try {
    await app.close();
  } finally {
    redis.disconnect();
    s3.destroy();
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ port: config.port, host: config.host });
