import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { envIssues, s3EnvShape, s3SettingsFromEnv, type S3Settings } from '@setrain/protocol';
import { z } from 'zod';

import { CliError, EXIT_CODES } from './errors.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** Where the CLI finds its settings, highest priority first: flags, environment, config file. */
export interface CliSettingsSources {
  flags: { apiUrl?: string | undefined; apiKey?: string | undefined; config?: string | undefined };
  env: Record<string, string | undefined>;
}

const fileSchema = z.strictObject({
  apiUrl: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  s3: z
    .strictObject({
      // Absent, never undefined (JSON has none): the fields S3Settings promises are set.
      endpoint: z.url().exactOptional(),
      region: z.string().exactOptional(),
      forcePathStyle: z.boolean().exactOptional(),
      accessKeyId: z.string().exactOptional(),
      secretAccessKey: z.string().exactOptional(),
    })
    .optional(),
});
export type CliConfigFile = z.infer<typeof fileSchema>;

/** Resolved settings; frozen. apiKey may be missing: commands that need the API say so. */
export interface CliConfig {
  apiUrl: string;
  apiKey: string | undefined;
  /** The S3 variables (parsed exactly as the API and worker parse them) over the file's `s3`;
   * fields set nowhere are absent and take the storage package's defaults. */
  s3: S3Settings;
  /** Where the config file was (or would be) read from. */
  configPath: string;
  /** SETRAIN_HOME: where `setrain local` keeps the local stack's data, logs and settings. */
  home: string;
}

/** The config file path: --config, SETRAIN_CONFIG, or ~/.config/setrain/config.json. */
export function configPathOf(sources: CliSettingsSources): string {
  return (
    sources.flags.config ??
    sources.env.SETRAIN_CONFIG ??
    join(sources.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'setrain', 'config.json')
  );
}

/** SETRAIN_HOME, or $XDG_DATA_HOME/setrain, or ~/.local/share/setrain. */
export function localHomeOf(env: CliSettingsSources['env']): string {
  return (
    env.SETRAIN_HOME ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'setrain')
  );
}

async function readConfigFile(path: string, explicit: boolean): Promise<CliConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new CliError(
      `cannot read config file ${path}: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `config file ${path} is not valid JSON: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      `config file ${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      EXIT_CODES.usage,
    );
  }
  return parsed.data;
}

const envSchema = z.object(s3EnvShape);

/** The S3 variables of `env`, with the same rules as the API's and the worker's config. */
function s3FromEnv(env: Record<string, string | undefined>): S3Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const text = envIssues(parsed.error)
      .map((issue) => `${issue.variable}: ${issue.message}`)
      .join('; ');
    throw new CliError(`invalid environment: ${text}`, EXIT_CODES.usage);
  }
  return s3SettingsFromEnv(parsed.data);
}

/** Resolves the CLI's settings once per process. */
export async function loadCliConfig(sources: CliSettingsSources): Promise<CliConfig> {
  const configPath = configPathOf(sources);
  const explicit = sources.flags.config !== undefined || sources.env.SETRAIN_CONFIG !== undefined;
  const file = await readConfigFile(configPath, explicit);
  const env = sources.env;
  const apiUrl = sources.flags.apiUrl ?? env.SETRAIN_API_URL ?? file.apiUrl ?? DEFAULT_API_URL;
  if (!URL.canParse(apiUrl)) {
    throw new CliError(
      `API URL "${apiUrl}" is not a URL (e.g. ${DEFAULT_API_URL})`,
      EXIT_CODES.usage,
    );
  }
  return Object.freeze({
    apiUrl: apiUrl.replace(/\/+$/, ''),
    apiKey: sources.flags.apiKey ?? env.SETRAIN_API_KEY ?? file.apiKey,
    s3: Object.freeze({ ...file.s3, ...s3FromEnv(env) }),
    configPath,
    home: localHomeOf(env),
  });
}
