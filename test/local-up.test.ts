/**
 * `setrain local up` for real: the supervisor starts redis-server, s3rver, the API and a worker
 * under a temporary SETRAIN_HOME; the CLI finds the stack with no flags (the config file `up`
 * wrote); a sweep is submitted; the supervisor is SIGKILLed mid-trial (its watchdogs stop the
 * services); `up` again brings the same stack back from its data folders and the sweep finishes,
 * the trial resumed from its checkpoint; `down` stops everything.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EXIT_CODES, runCli } from '@setrain/cli';

import { writeDatasetFolder } from './demo/run-demo.js';
import { makeStripesDataset } from './fixtures/stripes-dataset.js';
import { freePort, tempDir, waitFor } from './harness/index.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI_MAIN = join(REPO_ROOT, 'apps/cli/src/cli.ts');

interface Supervisor {
  child: ChildProcess;
  output(): string;
}

function startUp(env: Record<string, string>, flags: string[]): Supervisor {
  let output = '';
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CLI_MAIN, 'local', 'up', ...flags],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitUp(supervisor: Supervisor): Promise<void> {
  await waitFor(
    () => {
      if (supervisor.child.exitCode !== null)
        throw new Error(`local up exited early:\n${supervisor.output()}`);
      return supervisor.output().includes('Ctrl-C stops it');
    },
    { timeoutMs: 180_000, what: 'setrain local up' },
  );
}

async function cli(env: Record<string, string>, ...argv: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const code = await runCli(argv, {
    env: { ...process.env, ...env },
    in: Readable.from([]),
    out,
    err: out,
  });
  assert.equal(code, EXIT_CODES.ok, `setrain ${argv.join(' ')} failed:\n${text}`);
  return text;
}

test(
  'setrain local up survives a supervisor kill with a sweep in flight',
  { timeout: 600_000 },
  async (t) => {
    const home = await tempDir('local-home');
    const ports = {
      api: await freePort(),
      s3: await freePort(),
      redis: await freePort(),
      metrics: await freePort(),
    };
    const env = {
      SETRAIN_HOME: join(home.path, 'setrain'),
      XDG_CONFIG_HOME: join(home.path, 'config'),
    };
    const flags = [
      '--workers',
      '1',
      '--api-port',
      String(ports.api),
      '--s3-port',
      String(ports.s3),
      '--redis-port',
      String(ports.redis),
      '--metrics-port',
      String(ports.metrics),
    ];
    let supervisor: Supervisor | undefined;
    t.after(async () => {
      await runCli(['local', 'down'], {
        env: { ...process.env, ...env },
        in: Readable.from([]),
        out: new PassThrough(),
        err: new PassThrough(),
      });
      supervisor?.child.kill('SIGKILL');
      await home.cleanup();
    });

    const startedAt = Date.now();
    supervisor = startUp(env, flags);
    await waitUp(supervisor);
    t.diagnostic(`first up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    assert.match(supervisor.output(), new RegExp(`API +http://127\\.0\\.0\\.1:${ports.api}`));
    assert.ok(
      existsSync(join(env.XDG_CONFIG_HOME, 'setrain', 'config.json')),
      'CLI config written',
    );

    // No --api-url, --api-key or S3 variables: the CLI reads the config file `up` wrote.
    const dataset = await makeStripesDataset({ count: 12, seed: 3, size: 75 });
    const folder = join(home.path, 'images');
    await writeDatasetFolder(folder, dataset);
    await cli(env, 'dataset', 'upload', folder, 's3://setrain/datasets/tiny');
    const specPath = join(home.path, 'sweep.yaml');
    await writeFile(
      specPath,
      [
        'dataset: s3://setrain/datasets/tiny/manifest.jsonl',
        'model: { inputSize: 75, headActivation: sigmoid }',
        'training: { epochs: 3, batchSize: 4, validationSplit: 0.25, seed: 1 }',
        'search: { strategy: grid, parameters: { seRatio: [8] } }',
        '',
      ].join('\n'),
    );
    const submitted = JSON.parse(await cli(env, 'sweep', 'submit', specPath, '--json')) as {
      id: string;
    };
    const trialId = `${submitted.id}.1`;
    const trialJson = async () =>
      JSON.parse(await cli(env, 'sweep', 'status', submitted.id, '--json')) as {
        status: string;
        trials: { trialId: string; status: string; epochsCompleted: number }[];
      };
    await waitFor(async () => ((await trialJson()).trials[0]?.epochsCompleted ?? 0) >= 1, {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      what: `${trialId} to finish its first epoch`,
    });

    // A crash of the supervisor: its watchdogs TERM every service (workers give their trial back).
    supervisor.child.kill('SIGKILL');
    await waitFor(
      async () =>
        !(await fetch(`http://127.0.0.1:${ports.api}/healthz`).then(
          () => true,
          () => false,
        )) &&
        !(await fetch(`http://127.0.0.1:${ports.metrics}/healthz`).then(
          () => true,
          () => false,
        )),
      { timeoutMs: 120_000, what: 'the services to stop after the supervisor died' },
    );
    const status = await cli(env, 'local', 'status', '--json').catch((err: unknown) => String(err));
    t.diagnostic(`status after the kill: ${status.slice(0, 200)}`);

    supervisor = startUp(env, []); // the ports and key come back from stack.json
    await waitUp(supervisor);
    await waitFor(async () => (await trialJson()).status === 'completed', {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      what: `sweep ${submitted.id} to complete after the restart`,
    });
    const final = await trialJson();
    assert.equal(final.trials[0]?.status, 'completed');
    assert.equal(final.trials[0]?.epochsCompleted, 3);

    const down = await cli(env, 'local', 'down');
    assert.match(down, /stopped in/);
    await waitFor(() => supervisor?.child.exitCode !== null, {
      timeoutMs: 30_000,
      what: 'supervisor exit',
    });
    assert.equal(supervisor.child.exitCode, 0, supervisor.output());
    assert.ok(!existsSync(join(env.SETRAIN_HOME, 'run', 'state.json')), 'state file removed');
    t.diagnostic(`whole test ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  },
);
