/**
 * `npm run test:docker`: the compose stack for real, on images built from the offline bases
 * (build-images.sh builds them first). The stack is infra/docker-compose.yml plus
 * docker-compose.offline.yml (Debian's Redis and Prometheus, s3rver in place of MinIO; Grafana is
 * not started), with two CPU workers. Through the CLI against the published API (127.0.0.1 only):
 * upload a dataset and submit a two-trial sweep; `docker kill` the worker of trial 1 mid-trial
 * (the trial resumes on the other worker from its checkpoint), then `docker stop` (SIGTERM, what
 * `docker-compose stop` sends) the worker holding it (it is given back without using an attempt);
 * fetch the best checkpoint; every container runs as non-root. Prints the image sizes.
 * Not part of `npm test`: it needs a Docker engine (as root: `dockerd`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EXIT_CODES, runCli } from '@setrain/cli';

import { writeDatasetFolder } from '../demo/run-demo.js';
import { makeStripesDataset } from '../fixtures/stripes-dataset.js';
import { freePort, tempDir, waitFor } from '../harness/index.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = `setrain-dockertest-${randomBytes(3).toString('hex')}`;
const IMAGES = [
  'setrain/api:dev',
  'setrain/worker-cpu:dev',
  'setrain/worker-gpu-webgpu:dev',
  'setrain/redis-offline:dev',
  'setrain/prometheus-offline:dev',
  'setrain/s3-offline:dev',
];

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface TrialView {
  status: string;
  epochsCompleted: number;
  attempts: number;
  workerId?: string;
}

test(
  'the compose stack on real images: scale, kill, stop, resume, fetch the best',
  { timeout: 1_500_000 },
  async (t) => {
    const started = Date.now();
    const work = await tempDir('docker-test');
    const ports = {
      api: await freePort(),
      s3: await freePort(),
      s3Console: await freePort(),
      prometheus: await freePort(),
      grafana: await freePort(),
    };
    const apiKey = randomBytes(16).toString('hex');
    const envFile = join(work.path, 'compose.env');
    await writeFile(
      envFile,
      Object.entries({
        REDIS_PASSWORD: randomBytes(12).toString('hex'),
        // s3rver accepts only its fixed key pair.
        MINIO_ROOT_USER: 'S3RVER',
        MINIO_ROOT_PASSWORD: 'S3RVER',
        SETRAIN_API_KEYS: apiKey,
        GRAFANA_ADMIN_PASSWORD: 'unused',
        SETRAIN_KEY_PREFIX: '{setrain}',
        NODE_IMAGE: process.env.NODE_IMAGE ?? 'setrain/node:24.11.1-bookworm',
        SETRAIN_BIND_ADDRESS: '127.0.0.1',
        SETRAIN_API_PORT: ports.api,
        SETRAIN_MINIO_PORT: ports.s3,
        SETRAIN_MINIO_CONSOLE_PORT: ports.s3Console,
        SETRAIN_PROMETHEUS_PORT: ports.prometheus,
        SETRAIN_GRAFANA_PORT: ports.grafana,
        // A killed worker's trial is found stalled within seconds, not the production 30 s.
        SETRAIN_LOCK_DURATION_MS: 10_000,
        SETRAIN_STALLED_INTERVAL_MS: 5_000,
        SETRAIN_ENGINE_THREADS: 1,
      })
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    const compose = (...args: string[]) =>
      run('docker-compose', [
        '-p',
        PROJECT,
        '--env-file',
        envFile,
        '-f',
        'infra/docker-compose.yml',
        '-f',
        'infra/docker-compose.offline.yml',
        ...args,
      ]);
    t.after(async () => {
      try {
        compose('down', '-v', '--timeout', '10');
      } finally {
        await work.cleanup();
      }
    });

    compose('up', '-d', '--no-build', '--scale', 'worker-cpu=2');
    const containers = () =>
      run('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`])
        .split('\n')
        .filter(Boolean);
    const health = (id: string) =>
      run('docker', [
        'inspect',
        '-f',
        '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
        id,
      ]).trim();
    await waitFor(
      () => {
        const ids = containers();
        return ids.length >= 6 && ids.every((id) => ['healthy', 'none'].includes(health(id)));
      },
      { timeoutMs: 240_000, intervalMs: 1_000, what: 'every container to be healthy' },
    );
    t.diagnostic(`stack healthy ${Math.round((Date.now() - started) / 1000)} s after start`);
    const workerContainers = run('docker', [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${PROJECT}`,
      '--filter',
      'label=com.docker.compose.service=worker-cpu',
    ])
      .split('\n')
      .filter(Boolean);
    assert.equal(workerContainers.length, 2);
    const hostnameOf = (id: string) =>
      run('docker', ['inspect', '-f', '{{.Config.Hostname}}', id]).trim();
    const containerOfWorker = (workerId: string | undefined) =>
      workerContainers.find((id) => workerId?.startsWith(`${hostnameOf(id)}-`));

    for (const id of containers()) {
      const uid = run('docker', ['exec', id, 'id', '-u']).trim();
      assert.notEqual(
        uid,
        '0',
        `${run('docker', ['inspect', '-f', '{{.Name}}', id]).trim()} runs as root`,
      );
    }

    const ui = await fetch(`http://127.0.0.1:${ports.api}/ui/`);
    assert.equal(ui.status, 200, 'the API image serves the dashboard at /ui');
    await ui.body?.cancel();

    const env = {
      ...process.env,
      XDG_CONFIG_HOME: join(work.path, 'config'),
      SETRAIN_API_URL: `http://127.0.0.1:${ports.api}`,
      SETRAIN_API_KEY: apiKey,
      S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
    };
    const cli = async (...argv: string[]): Promise<string> => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const code = await runCli(argv, { env, in: Readable.from([]), out, err: out });
      assert.equal(code, EXIT_CODES.ok, `setrain ${argv.join(' ')}:\n${text}`);
      return text;
    };
    const folder = join(work.path, 'images');
    await writeDatasetFolder(folder, await makeStripesDataset({ count: 12, seed: 5, size: 75 }));
    await cli('dataset', 'upload', folder, 's3://setrain/datasets/tiny');
    const spec = join(work.path, 'sweep.yaml');
    await writeFile(
      spec,
      [
        'dataset: s3://setrain/datasets/tiny/manifest.jsonl',
        'model: { inputSize: 75, headActivation: sigmoid }',
        'training: { epochs: 6, batchSize: 4, validationSplit: 0.25, seed: 1 }',
        'search: { strategy: grid, parameters: { seRatio: [8, 16] } }',
        'parallelism: 2',
        '',
      ].join('\n'),
    );
    const sweepId = (JSON.parse(await cli('sweep', 'submit', spec, '--json')) as { id: string }).id;
    const trialViaApi = async (n: number): Promise<TrialView> => {
      const response = await fetch(`http://127.0.0.1:${ports.api}/v1/trials/${sweepId}.${n}`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      assert.equal(response.status, 200);
      return (await response.json()) as TrialView;
    };

    // docker kill: the worker of trial 1 dies mid-trial; the other worker resumes the trial.
    const beforeKill = await waitFor(
      async () => {
        const view = await trialViaApi(1);
        return view.status === 'running' &&
          view.epochsCompleted >= 1 &&
          containerOfWorker(view.workerId)
          ? view
          : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1_000, what: 'trial 1 to finish an epoch' },
    );
    const killed = containerOfWorker(beforeKill.workerId) ?? '';
    const other = workerContainers.find((id) => id !== killed) ?? '';
    run('docker', ['kill', killed]);
    t.diagnostic(`killed ${killed} at epoch ${beforeKill.epochsCompleted} of trial 1`);
    const resumed = await waitFor(
      async () => {
        const view = await trialViaApi(1);
        return view.status === 'running' && containerOfWorker(view.workerId) === other
          ? view
          : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1_000, what: 'trial 1 to resume on the other worker' },
    );
    assert.ok(
      resumed.epochsCompleted >= beforeKill.epochsCompleted,
      'resumed from its checkpoint, not from scratch',
    );

    // docker stop (SIGTERM, as `docker-compose stop` sends): the trial goes back without an attempt.
    run('docker', ['start', killed]);
    const beforeStop = await trialViaApi(1);
    run('docker', ['stop', '--time', '120', other]);
    const after = await waitFor(
      async () => {
        const view = await trialViaApi(1);
        return view.status === 'running' && containerOfWorker(view.workerId) === killed
          ? view
          : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1_000, what: 'trial 1 to move to the restarted worker' },
    );
    assert.equal(
      after.attempts,
      beforeStop.attempts,
      'a SIGTERM gives the trial back without an attempt',
    );

    await cli('sweep', 'status', sweepId, '--watch', '--interval', '2');
    const best = join(work.path, 'best');
    // The best trial's last-epoch weights (final/): until the worker on main writes best/ too, the
    // default (its best epoch) is refused for trials without one.
    await cli('fetch-best', sweepId, '-o', best, '--epoch', 'last');
    assert.ok(
      existsSync(join(best, 'model.json')) && existsSync(join(best, 'model-card.json')),
      'best checkpoint fetched',
    );

    const sizes = IMAGES.map(
      (image) =>
        `${image} ${Math.round(Number(run('docker', ['image', 'inspect', '-f', '{{.Size}}', image]).trim()) / 1e6)} MB`,
    );
    t.diagnostic(`image sizes: ${sizes.join(', ')}`);
    t.diagnostic(`compose test ${Math.round((Date.now() - started) / 1000)} s`);
  },
);
