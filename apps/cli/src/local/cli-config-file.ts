/**
 * Points the CLI at the local stack by writing its config file (~/.config/setrain/config.json),
 * unless the user keeps their own there: the file is (re)written only when missing or when it is
 * exactly what an earlier `setrain local up` wrote (a copy is kept in SETRAIN_HOME).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { CliConfigFile } from '../config.js';
import type { LocalHome, LocalSettings } from './local-home.js';
import { localUrls } from './local-home.js';
import {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_REGION,
  LOCAL_S3_SECRET_ACCESS_KEY,
} from './local-services.js';

export function localCliConfig(settings: LocalSettings): CliConfigFile {
  const urls = localUrls(settings);
  return {
    apiUrl: urls.api,
    apiKey: settings.apiKey,
    s3: {
      endpoint: urls.s3,
      region: LOCAL_S3_REGION,
      forcePathStyle: true,
      accessKeyId: LOCAL_S3_ACCESS_KEY_ID,
      secretAccessKey: LOCAL_S3_SECRET_ACCESS_KEY,
    },
  };
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** Writes the config file when it is ours to write; returns whether it did. */
export async function writeLocalCliConfig(
  home: LocalHome,
  settings: LocalSettings,
  configPath: string,
): Promise<boolean> {
  const text = `${JSON.stringify(localCliConfig(settings), null, 2)}\n`;
  const copyPath = join(home.root, 'cli-config.json');
  const current = await readText(configPath);
  if (current !== undefined && current !== text && current !== (await readText(copyPath)))
    return false;
  await mkdir(dirname(configPath), { recursive: true });
  await writeFile(configPath, text, { mode: 0o600 });
  await writeFile(copyPath, text, { mode: 0o600 });
  return true;
}
