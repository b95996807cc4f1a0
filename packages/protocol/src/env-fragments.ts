/**
 * Environment-variable fragments shared by the API, the worker and the CLI, so a variable means the
 * same thing in every process: each app spreads the shapes it needs into its own zod schema, which
 * it parses once in its config.ts. Empty strings mean unset (compose passes `${VAR:-}` through).
 */
import { z } from 'zod';

import { DEFAULT_KEY_PREFIX } from './queues.js';
import { redisSentinelEnvShape } from './redis-sentinel.js';
import { DEFAULT_MAX_TRIAL_MEMORY_BYTES } from './trial-memory.js';
import { parseWebhookNetwork } from './webhook-address.js';
import { webhookUrlSchema } from './webhook-spec.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The environment without its blank variables, which every setrain process reads as unset: compose
 * passes `${VAR:-}` through as an empty string, so the default lives once, in the code.
 */
export function withoutBlankValues(env: NodeJS.ProcessEnv): Record<string, string> {
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') present[name] = value;
  }
  return present;
}

/** `true`/`1` or `false`/`0`; anything else is an error that lists the allowed values. */
export const booleanEnv = z
  .enum(['true', 'false', '1', '0'], { error: 'must be one of true, false, 1, 0' })
  .transform((v) => v === 'true' || v === '1');

/** A comma-separated list: its trimmed, non-empty items (none when unset). */
export const commaListEnv = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

/** A trimmed string, undefined when missing or blank. */
export const optionalEnvString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Redis: URL, key prefix and (optionally) Sentinel. */
export const redisEnvShape = {
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default(DEFAULT_REDIS_URL),
  ...redisSentinelEnvShape,
  SETRAIN_KEY_PREFIX: z.string().min(1).default(DEFAULT_KEY_PREFIX),
};

/** S3-compatible storage. Unset fields take the storage package's defaults (region us-east-1;
 * path-style addressing exactly when an endpoint is set). */
export const s3EnvShape = {
  S3_ENDPOINT: optionalEnvString,
  S3_REGION: optionalEnvString,
  S3_FORCE_PATH_STYLE: booleanEnv.optional(),
  S3_ACCESS_KEY_ID: optionalEnvString,
  S3_SECRET_ACCESS_KEY: optionalEnvString,
};

/** S3 settings as parsed from {@link s3EnvShape}; only the fields that were set are present. */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

interface S3Env {
  readonly S3_ENDPOINT?: string | undefined;
  readonly S3_REGION?: string | undefined;
  readonly S3_FORCE_PATH_STYLE?: boolean | undefined;
  readonly S3_ACCESS_KEY_ID?: string | undefined;
  readonly S3_SECRET_ACCESS_KEY?: string | undefined;
}

/** The S3 settings of a parsed environment, frozen, without the fields that were not set. */
export function s3SettingsFromEnv(e: S3Env): S3Settings {
  const settings: { -readonly [K in keyof S3Settings]: S3Settings[K] } = {};
  if (e.S3_ENDPOINT !== undefined) settings.endpoint = e.S3_ENDPOINT;
  if (e.S3_REGION !== undefined) settings.region = e.S3_REGION;
  if (e.S3_FORCE_PATH_STYLE !== undefined) settings.forcePathStyle = e.S3_FORCE_PATH_STYLE;
  if (e.S3_ACCESS_KEY_ID !== undefined) settings.accessKeyId = e.S3_ACCESS_KEY_ID;
  if (e.S3_SECRET_ACCESS_KEY !== undefined) settings.secretAccessKey = e.S3_SECRET_ACCESS_KEY;
  return Object.freeze(settings);
}

/** S3 bucket names (3-63 lowercase letters, digits, dots and hyphens). */
export const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Smallest budget per trial SETRAIN_MAX_TRIAL_MEMORY_BYTES accepts (no trial fits in less). */
export const MIN_TRIAL_MEMORY_BYTES = 256 * 2 ** 20;

/**
 * Limits the API checks at submit and every worker checks again before it trains a trial (a job
 * can reach the queue without the API): the memory budget per trial and the buckets datasets and
 * backbone weights may be read from (besides the artifacts bucket, which is always allowed).
 */
export const trialLimitsEnvShape = {
  SETRAIN_MAX_TRIAL_MEMORY_BYTES: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number()
      .int({ error: 'must be a whole number of bytes' })
      .min(MIN_TRIAL_MEMORY_BYTES, { error: `must be at least ${MIN_TRIAL_MEMORY_BYTES} bytes` })
      .default(DEFAULT_MAX_TRIAL_MEMORY_BYTES),
  ),
  SETRAIN_DATA_BUCKETS: commaListEnv.refine(
    (buckets) => buckets.every((b) => BUCKET_NAME_PATTERN.test(b)),
    'must be a comma-separated list of S3 bucket names',
  ),
};

/** Smallest SETRAIN_METRICS_TOKEN (the same floor as API keys). */
export const MIN_METRICS_TOKEN_LENGTH = 16;

/** Bearer token for the detailed /metrics series (per-sweep labels); unset: only aggregates. */
export const metricsTokenEnvShape = {
  SETRAIN_METRICS_TOKEN: optionalEnvString.refine(
    (v) => v === undefined || v.length >= MIN_METRICS_TOKEN_LENGTH,
    `must be at least ${MIN_METRICS_TOKEN_LENGTH} characters long`,
  ),
};

/** pino's levels, the same in every process. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logEnvShape = {
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
};

/**
 * pino options every process logs with (the API passes them to Fastify, the worker to pino): one
 * JSON object per line with an ISO `time`, the level as its name, and `base` fields (service,
 * workerId) on every line. Plain data, so this package needs no pino import.
 */
export function loggerOptions(level: LogLevel, base: Record<string, unknown>) {
  return {
    level,
    base,
    timestamp: (): string => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
}

/** One bad variable: its name and what is wrong with it. */
export interface EnvIssue {
  readonly variable: string;
  readonly message: string;
}

/** The issues of a failed env parse, each naming its variable. */
export function envIssues(error: z.ZodError): EnvIssue[] {
  return error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? ''),
    message: issue.message,
  }));
}

/** Webhook settings every API reads (SETRAIN_WEBHOOK_*). */
export const webhookEnvShape = {
  /** Comma-separated URLs that get every sweep's events. */
  SETRAIN_WEBHOOK_URLS: commaListEnv.pipe(z.array(webhookUrlSchema)),
  /**
   * Networks (comma-separated CIDRs or addresses) that a spec's `notify.webhooks` may reach although
   * they are loopback, private, link-local or otherwise not public (e.g. `127.0.0.1/32` for a test
   * receiver, `0.0.0.0/0,::/0` for a trusted local stack). Default none.
   */
  SETRAIN_WEBHOOK_ALLOWED_NETWORKS: commaListEnv.superRefine((networks, ctx) => {
    for (const network of networks) {
      try {
        parseWebhookNetwork(network);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }
  }),
  /** The HMAC-SHA256 key deliveries are signed with; needed for any webhook. */
  SETRAIN_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters long').optional(),
  /** Attempts per delivery (default 5). */
  SETRAIN_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  /** First retry delay; it doubles per attempt (default 2000 ms). */
  SETRAIN_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(2000),
};
