import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
      endpoint: z.url().optional(),
      region: z.string().optional(),
      forcePathStyle: z.boolean().optional(),
      accessKeyId: z.string().optional(),
      secretAccessKey: z.string().optional(),
    })
    .optional(),
});
export type CliConfigFile = z.infer<typeof fileSchema>;

/** Resolved settings; frozen. apiKey may be missing: commands that need the API say so. */
export interface CliConfig {
  apiUrl: string;
  apiKey: string | undefined;
  s3: {
    endpoint: string | undefined;
    region: string;
    forcePathStyle: boolean;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
  };
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
    s3: Object.freeze({
      endpoint: env.S3_ENDPOINT ?? file.s3?.endpoint,
      region: env.S3_REGION ?? file.s3?.region ?? 'us-east-1',
      forcePathStyle:
        (env.S3_FORCE_PATH_STYLE ?? String(file.s3?.forcePathStyle ?? true)) !== 'false',
      accessKeyId: env.S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID ?? file.s3?.accessKeyId,
      secretAccessKey:
        env.S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY ?? file.s3?.secretAccessKey,
    }),
    configPath,
    home: localHomeOf(env),
  });
}
