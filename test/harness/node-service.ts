import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { S3Server } from './s3.js';
import { startServiceProcess, type ServiceProcess } from './service-process.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Entry points of this repository's processes. */
export const API_MAIN = resolve(REPO_ROOT, 'apps/api/src/main.ts');
export const WORKER_MAIN = resolve(REPO_ROOT, 'apps/worker/src/main.ts');

/**
 * Starts one of this repository's TypeScript entry points (e.g. API_MAIN) under tsx as a
 * background service, with `env` on top of this process's environment (through `env`, so this
 * process's own is untouched), from the repository's root.
 */
export function startNodeService(
  name: string,
  main: string,
  env: Readonly<Record<string, string>>,
): ServiceProcess {
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return startServiceProcess(
    name,
    'env',
    [
      ...assignments,
      process.execPath,
      '--conditions=source',
      '--import',
      'tsx',
      resolve(REPO_ROOT, main),
    ],
    { cwd: REPO_ROOT },
  );
}

/** The S3_* variables that point a setrain process at `s3`. */
export function s3EnvOf(s3: S3Server): Record<string, string> {
  return {
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: s3.config.accessKeyId ?? '',
    S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey ?? '',
  };
}
