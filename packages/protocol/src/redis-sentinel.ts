/**
 * Redis Sentinel settings, parsed the same way by the API and the worker (each spreads
 * {@link redisSentinelEnvShape} into its config schema and refines it with
 * {@link requireSentinelPair}). ioredis and BullMQ take the result as connection options:
 * `new Redis(REDIS_URL, { ...redisSentinel, ... })` asks the sentinels for the master's address
 * (REDIS_URL then only contributes password and db) and follows it after a failover.
 */
import { z } from 'zod';

/** One sentinel, as ioredis takes it. */
export interface RedisSentinelAddress {
  readonly host: string;
  readonly port: number;
}

/** ioredis options that route a connection through Sentinel. */
export interface RedisSentinelOptions {
  /** Mutable type because ioredis's option is; not changed by anyone. */
  readonly sentinels: RedisSentinelAddress[];
  /** The master name the sentinels monitor (`sentinel monitor <name> ...`). */
  readonly name: string;
}

const SENTINEL_ADDRESS = /^(?<host>\[[0-9a-fA-F:]+\]|[^\s:,[\]]+):(?<port>\d{1,5})$/;
const SENTINELS_FORMAT = 'must be a comma-separated list of host:port (e.g. s1:26379,s2:26379)';

function parseAddress(text: string): RedisSentinelAddress | undefined {
  const match = SENTINEL_ADDRESS.exec(text);
  const port = Number(match?.groups?.['port']);
  const host = match?.groups?.['host']?.replace(/^\[(.*)\]$/, '$1');
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** Both variables, empty meaning unset (compose passes `${REDIS_SENTINELS:-}` through). */
export const redisSentinelEnvShape = {
  REDIS_SENTINELS: z
    .string()
    .optional()
    .transform((value, ctx): RedisSentinelAddress[] | undefined => {
      const items = (value ?? '')
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
      if (items.length === 0) return undefined;
      const addresses = items.map(parseAddress);
      if (addresses.some((address) => address === undefined)) {
        ctx.addIssue({ code: 'custom', message: SENTINELS_FORMAT });
        return z.NEVER;
      }
      return addresses.filter((address) => address !== undefined);
    }),
  REDIS_SENTINEL_MASTER: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim())),
};

interface SentinelEnv {
  readonly REDIS_SENTINELS?: readonly RedisSentinelAddress[] | undefined;
  readonly REDIS_SENTINEL_MASTER?: string | undefined;
}

/** Refinement for the config schema: the two variables are set together or not at all. */
export function requireSentinelPair<T extends SentinelEnv>(env: T, ctx: z.RefinementCtx<T>): void {
  if (env.REDIS_SENTINELS !== undefined && env.REDIS_SENTINEL_MASTER === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINEL_MASTER'],
      message: 'is required with REDIS_SENTINELS: the master name the sentinels monitor',
    });
  }
  if (env.REDIS_SENTINEL_MASTER !== undefined && env.REDIS_SENTINELS === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINELS'],
      message: 'is required with REDIS_SENTINEL_MASTER: the sentinels to ask for its address',
    });
  }
}

/** The ioredis options of parsed settings; undefined without Sentinel (REDIS_URL alone). */
export function redisSentinelOptions(env: SentinelEnv): RedisSentinelOptions | undefined {
  if (env.REDIS_SENTINELS === undefined || env.REDIS_SENTINEL_MASTER === undefined) {
    return undefined;
  }
  return { sentinels: [...env.REDIS_SENTINELS], name: env.REDIS_SENTINEL_MASTER };
}
