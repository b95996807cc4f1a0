// The compose stack passes the API and the workers every variable they read, and the defaults that
// infra/.env.example shows are the code's: a variable added to a config schema but not to
// infra/docker-compose.yml would silently be unsettable for compose users.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import { API_ENV_VARS, loadConfig } from '@setrain/api';
import { loadWorkerConfig, WORKER_ENV_VARS } from '@setrain/worker';
import { parse } from 'yaml';

const COMPOSE = new URL('../infra/docker-compose.yml', import.meta.url);
const ENV_EXAMPLE = new URL('../infra/.env.example', import.meta.url);

/** Variables compose deliberately does not pass, and why. */
const NOT_PASSED: Record<string, string> = {
  HOST: 'set to 0.0.0.0 in the API service',
  SETRAIN_WORKER_ID: 'defaults to <hostname>-<pid>, unique per container',
};

/** The value compose gives `${NAME:-default}` / `${NAME:?message}` when infra/.env sets nothing. */
function interpolateUnset(value: string): string {
  return value.replace(
    /\$\{([A-Z_0-9]+)(:-([^}]*)|:\?[^}]*)?\}/g,
    (_m, name: string, op?: string, dflt?: string) =>
      op?.startsWith(':?') ? `required-${name.toLowerCase()}-value-0123456789` : (dflt ?? ''),
  );
}

interface ComposeService {
  environment?: Record<string, string | number>;
}

async function serviceEnv(service: string): Promise<Record<string, string>> {
  const compose = parse(await readFile(COMPOSE, 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const env = compose.services[service]?.environment;
  assert.ok(env, `${service} has an environment`);
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => [name, interpolateUnset(String(value))]),
  );
}

/** GPU workers run the tensorflow or webgpu engine; only the native engine has a thread pool and
 * a kernel queue. */
const NOT_PASSED_TO_GPU_WORKERS = ['SETRAIN_ENGINE_THREADS', 'SETRAIN_ENGINE_KERNEL_QUEUE'];

function missingFrom(
  env: Record<string, string>,
  vars: readonly string[],
  excused: readonly string[] = [],
): string[] {
  return vars.filter((name) => !(name in env) && !(name in NOT_PASSED) && !excused.includes(name));
}

test('compose passes the worker every variable it reads, and unset ones mean the defaults', async () => {
  for (const [service, excused] of [
    ['worker-cpu', []],
    ['worker-gpu-0', NOT_PASSED_TO_GPU_WORKERS],
  ] as const) {
    const env = await serviceEnv(service);
    assert.deepEqual(missingFrom(env, WORKER_ENV_VARS, excused), [], `${service} lacks these`);
    const config = loadWorkerConfig(env);
    const defaults = loadWorkerConfig({});
    assert.deepEqual(config.data, defaults.data);
    assert.equal(config.lockDurationMs, defaults.lockDurationMs);
    assert.equal(config.outageBudgetSeconds, defaults.outageBudgetSeconds);
    assert.equal(config.quarantineAfter, defaults.quarantineAfter);
    assert.equal(config.redisSentinel, undefined, 'empty sentinel variables mean no Sentinel');
  }
});

test('compose passes the API every variable it reads, and unset ones mean the defaults', async () => {
  const env = await serviceEnv('api');
  assert.deepEqual(missingFrom(env, API_ENV_VARS), [], 'the api service lacks these');
  const config = loadConfig(env);
  const defaults = loadConfig({
    SETRAIN_API_KEYS: 'k'.repeat(32),
    SETRAIN_ARTIFACTS_BUCKET: 'setrain',
  });
  assert.equal(config.bodyLimitBytes, defaults.bodyLimitBytes);
  assert.equal(config.sweepRetentionSeconds, defaults.sweepRetentionSeconds);
  assert.deepEqual(config.dataBuckets, defaults.dataBuckets);
});

test('the numbers infra/.env.example shows are the code defaults', async () => {
  const lines = (await readFile(ENV_EXAMPLE, 'utf8')).split('\n');
  const example = Object.fromEntries(
    lines
      .filter((line) => /^[A-Z_0-9]+=\d+$/.test(line))
      .map((line) => line.split('=') as [string, string]),
  );
  const workerVars = Object.keys(example).filter((name) => WORKER_ENV_VARS.includes(name));
  assert.ok(workerVars.length >= 8, `found ${workerVars.join(', ')}`);
  assert.deepEqual(
    {
      ...loadWorkerConfig(Object.fromEntries(workerVars.map((n) => [n, example[n]]))),
      workerId: '',
    },
    { ...loadWorkerConfig({}), workerId: '' },
  );
  const required = { SETRAIN_API_KEYS: 'k'.repeat(32), SETRAIN_ARTIFACTS_BUCKET: 'setrain' };
  const apiVars = Object.keys(example).filter((name) => API_ENV_VARS.includes(name));
  assert.ok(apiVars.length >= 4, `found ${apiVars.join(', ')}`);
  assert.deepEqual(
    loadConfig({ ...required, ...Object.fromEntries(apiVars.map((n) => [n, example[n]])) }),
    loadConfig(required),
  );
});
