/**
 * What the local stack runs, in start order: redis-server (AOF in its data folder), s3rver (its
 * own data folder), the API, and the workers. Each is a command line, an environment and a probe
 * that says when it is ready. The API and workers are started the way this CLI was started (same
 * Node, same flags): from the TypeScript sources in a checkout, from dist/ after a build.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { LocalHome, LocalSettings } from './local-home.js';
import { httpAnswers, httpOk, redisPong } from './readiness.js';

/** s3rver checks request signatures against this fixed key pair (its documented defaults). */
export const LOCAL_S3_ACCESS_KEY_ID = 'S3RVER';
export const LOCAL_S3_SECRET_ACCESS_KEY = 'S3RVER';
export const LOCAL_S3_REGION = 'us-east-1';

/** One service of the stack. */
export interface LocalServiceSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Resolves true once the service answers. */
  ready: () => Promise<boolean>;
  /** What ready() checks, for messages. */
  readyWhat: string;
  /** Seconds it outlives a supervisor killed without stopping it (see watchdog.ts). */
  orphanGraceSeconds: number;
}

/**
 * When the supervisor dies without stopping the stack, workers are TERMed at once and give their
 * trials back to Redis, which must still be there: the API goes after 10 s, S3 and Redis after 40.
 */
const ORPHAN_GRACE_SECONDS = { infrastructure: 40, api: 10, worker: 0 } as const;

/** How to start Node programs: this process's Node and flags (e.g. `--import tsx`). */
export interface NodeLauncher {
  execPath: string;
  execArgv: readonly string[];
}

/** `main.ts` (sources) or `main.js` (dist) beside the entry point of a workspace package. */
function packageMain(packageName: string): string {
  const entry = fileURLToPath(import.meta.resolve(packageName));
  return join(dirname(entry), `main${entry.endsWith('.ts') ? '.ts' : '.js'}`);
}

function siblingScript(base: string): string {
  const self = fileURLToPath(import.meta.url);
  return join(dirname(self), `${base}${self.endsWith('.ts') ? '.ts' : '.js'}`);
}

/** The environment that points a process at the stack's S3 server. */
export function localS3Env(settings: LocalSettings): Record<string, string> {
  return {
    S3_ENDPOINT: `http://127.0.0.1:${settings.s3Port}`,
    S3_REGION: LOCAL_S3_REGION,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_ACCESS_KEY,
  };
}

/** The services, in start order (stopped in reverse). */
export function localServices(
  home: LocalHome,
  settings: LocalSettings,
  node: NodeLauncher,
): LocalServiceSpec[] {
  const redisUrl = `redis://127.0.0.1:${settings.redisPort}`;
  const s3Env = localS3Env(settings);
  const api = `http://127.0.0.1:${settings.apiPort}`;
  const shared = {
    ...s3Env,
    REDIS_URL: redisUrl,
    SETRAIN_KEY_PREFIX: settings.keyPrefix,
    LOG_LEVEL: 'info',
    // The SDK's notice about Node 20's end of support, printed by every process, is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const services: LocalServiceSpec[] = [
    {
      name: 'redis',
      command: 'redis-server',
      args: [
        '--bind',
        '127.0.0.1',
        '--port',
        String(settings.redisPort),
        '--dir',
        home.redisDir,
        // AOF so queued trials and sweep state survive a restart; noeviction because BullMQ must
        // never lose keys to memory pressure (as in infra/docker-compose.yml).
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--maxmemory-policy',
        'noeviction',
        '--save',
        '',
      ],
      env: {},
      ready: () => redisPong(settings.redisPort),
      readyWhat: `redis-server to answer PING on 127.0.0.1:${settings.redisPort}`,
      orphanGraceSeconds: ORPHAN_GRACE_SECONDS.infrastructure,
    },
    {
      name: 's3',
      command: node.execPath,
      args: [
        ...node.execArgv,
        '--openssl-legacy-provider',
        siblingScript('s3-server-main'),
        home.s3Dir,
        String(settings.s3Port),
        settings.bucket,
      ],
      env: {},
      ready: () => httpAnswers(s3Env.S3_ENDPOINT ?? ''),
      readyWhat: `s3rver to answer on ${s3Env.S3_ENDPOINT}`,
      orphanGraceSeconds: ORPHAN_GRACE_SECONDS.infrastructure,
    },
    {
      name: 'api',
      command: node.execPath,
      args: [...node.execArgv, packageMain('@setrain/api')],
      env: {
        ...shared,
        PORT: String(settings.apiPort),
        HOST: '127.0.0.1',
        SETRAIN_API_KEYS: settings.apiKey,
        SETRAIN_ARTIFACTS_BUCKET: settings.bucket,
      },
      ready: () => httpOk(`${api}/readyz`),
      readyWhat: `the API to answer ${api}/readyz`,
      orphanGraceSeconds: ORPHAN_GRACE_SECONDS.api,
    },
  ];
  for (let i = 1; i <= settings.workers; i++) {
    const metricsPort = settings.metricsPort + i - 1;
    services.push({
      name: `worker-${i}`,
      command: node.execPath,
      args: [...node.execArgv, packageMain('@setrain/worker')],
      env: {
        ...shared,
        SETRAIN_WORKER_ID: `local-${i}`,
        SETRAIN_ENGINE: 'auto',
        SETRAIN_ENGINE_THREADS: String(settings.threadsPerWorker),
        SETRAIN_CACHE_DIR: join(home.cacheDir, `worker-${i}`),
        METRICS_PORT: String(metricsPort),
      },
      ready: () => httpOk(`http://127.0.0.1:${metricsPort}/healthz`),
      readyWhat: `worker-${i} to answer http://127.0.0.1:${metricsPort}/healthz`,
      orphanGraceSeconds: ORPHAN_GRACE_SECONDS.worker,
    });
  }
  return services;
}
