/**
 * The files of the local stack under SETRAIN_HOME (default ~/.local/share/setrain): its settings
 * (chosen once, at the first `setrain local up`, then reused so URLs, keys and data stay put), the
 * supervisor's pid and state, one log per service and each service's data folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { z } from 'zod';

import { CliError, EXIT_CODES } from '../errors.js';

export const DEFAULT_LOCAL_API_PORT = 8080;
export const DEFAULT_LOCAL_S3_PORT = 9000;
/** Not 6379: a Redis of the distribution may already listen there. */
export const DEFAULT_LOCAL_REDIS_PORT = 6390;
export const DEFAULT_LOCAL_METRICS_PORT = 9464;
export const DEFAULT_LOCAL_BUCKET = 'setrain';
export const DEFAULT_LOCAL_KEY_PREFIX = '{setrain}';
/** More workers than this on one machine only split the same memory bandwidth further. */
export const MAX_DEFAULT_LOCAL_WORKERS = 4;

/** Paths of everything the local stack keeps. */
export interface LocalHome {
  readonly root: string;
  /** The stack's settings (ports, API key, workers): stack.json. */
  readonly settingsFile: string;
  /** Written by a running supervisor: its pid, each service's pid, restarts and URLs. */
  readonly stateFile: string;
  readonly logsDir: string;
  readonly redisDir: string;
  readonly s3Dir: string;
  readonly cacheDir: string;
}

export function localHome(root: string): LocalHome {
  return {
    root,
    settingsFile: join(root, 'stack.json'),
    stateFile: join(root, 'run', 'state.json'),
    logsDir: join(root, 'logs'),
    redisDir: join(root, 'redis'),
    s3Dir: join(root, 's3'),
    cacheDir: join(root, 'cache'),
  };
}

const port = z.number().int().min(1).max(65_535);

/** stack.json: what `up` needs to start the same stack again. */
export const localSettingsSchema = z.strictObject({
  apiPort: port,
  s3Port: port,
  redisPort: port,
  /** Worker i serves its metrics on metricsPort + i. */
  metricsPort: port,
  workers: z.number().int().min(1).max(256),
  /** SETRAIN_ENGINE_THREADS of each worker. */
  threadsPerWorker: z.number().int().min(1).max(1024),
  apiKey: z.string().min(16),
  bucket: z.string().min(3),
  keyPrefix: z.string().min(1),
});
export type LocalSettings = z.infer<typeof localSettingsSchema>;

/** Overrides given to `setrain local up` (kept in stack.json for the next `up`). */
export interface LocalSettingsOverrides {
  apiPort?: number | undefined;
  s3Port?: number | undefined;
  redisPort?: number | undefined;
  metricsPort?: number | undefined;
  workers?: number | undefined;
}

/**
 * Sizes the workers to the cores: one worker per core up to MAX_DEFAULT_LOCAL_WORKERS (a
 * single-threaded worker uses a core best), then the cores are split evenly between them.
 */
export function defaultWorkerSizing(
  cores: number,
  workers?: number,
): { workers: number; threadsPerWorker: number } {
  const count = workers ?? Math.max(1, Math.min(cores, MAX_DEFAULT_LOCAL_WORKERS));
  return { workers: count, threadsPerWorker: Math.max(1, Math.floor(cores / count)) };
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT_CODES.usage);
  }
}

/** Writes through a temp file and a rename, so a reader never sees half a file. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
}

/** Reads stack.json; undefined before the first `up`. */
export async function readLocalSettings(home: LocalHome): Promise<LocalSettings | undefined> {
  const json = await readJson(home.settingsFile);
  if (json === undefined) return undefined;
  const parsed = localSettingsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      `${home.settingsFile}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}; ` +
        'fix it or delete it (a new one is written at the next `setrain local up`)',
      EXIT_CODES.usage,
    );
  }
  return parsed.data;
}

/** Settings for `up`: the saved ones with the overrides applied, or fresh defaults; saved back. */
export async function resolveLocalSettings(
  home: LocalHome,
  overrides: LocalSettingsOverrides,
): Promise<LocalSettings> {
  await mkdir(home.root, { recursive: true, mode: 0o700 });
  for (const dir of [
    home.logsDir,
    home.redisDir,
    home.s3Dir,
    home.cacheDir,
    join(home.root, 'run'),
  ])
    await mkdir(dir, { recursive: true });
  const saved = await readLocalSettings(home);
  const sizing = defaultWorkerSizing(availableParallelism(), overrides.workers ?? saved?.workers);
  const settings: LocalSettings = {
    apiPort: overrides.apiPort ?? saved?.apiPort ?? DEFAULT_LOCAL_API_PORT,
    s3Port: overrides.s3Port ?? saved?.s3Port ?? DEFAULT_LOCAL_S3_PORT,
    redisPort: overrides.redisPort ?? saved?.redisPort ?? DEFAULT_LOCAL_REDIS_PORT,
    metricsPort: overrides.metricsPort ?? saved?.metricsPort ?? DEFAULT_LOCAL_METRICS_PORT,
    ...sizing,
    apiKey: saved?.apiKey ?? randomBytes(24).toString('hex'),
    bucket: saved?.bucket ?? DEFAULT_LOCAL_BUCKET,
    keyPrefix: saved?.keyPrefix ?? DEFAULT_LOCAL_KEY_PREFIX,
  };
  await writeJsonAtomic(home.settingsFile, settings);
  return settings;
}

/** The URLs a user needs. */
export function localUrls(settings: LocalSettings): {
  api: string;
  docs: string;
  metrics: string;
  ui: string;
  s3: string;
} {
  const api = `http://127.0.0.1:${settings.apiPort}`;
  return {
    api,
    docs: `${api}/docs`,
    metrics: `${api}/metrics`,
    ui: `${api}/ui`,
    s3: `http://127.0.0.1:${settings.s3Port}`,
  };
}
