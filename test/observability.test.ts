/**
 * Observability end to end: a real Prometheus, configured from infra/prometheus/prometheus.yml but
 * pointed at this test's ports, scrapes the real API (buildApp, listening) while real worker
 * processes run a small sweep; then every query of every Grafana dashboard panel must return data,
 * queried the way Grafana does (range queries for graphs, instant for stats/tables), and every
 * alert rule must load and evaluate.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { buildApp, type ApiApp } from '@setrain/api';
import { DEFAULT_WORKER_METRICS_PORT, sweepDetailSchema } from '@setrain/protocol';

import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import {
  freePort,
  promtoolPath,
  startPrometheus,
  startRedis,
  startS3,
  s3EnvOf,
  startNodeService,
  WORKER_MAIN,
  tempDir,
  waitFor,
  type PrometheusServer,
  type RedisServer,
  type S3Server,
  type ServiceProcess,
  type TempDir,
} from './harness/index.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const INFRA = join(REPO_ROOT, 'infra');
const WORKERS = 2;
const SWEEP_TIMEOUT_MS = 480_000;
/** Grafana's $__rate_interval at this test's 1 s scrape interval (4 scrapes, with room). */
const RATE_INTERVAL = '15s';

type Json = Record<string, unknown>;

/** A dashboard panel query as Grafana would send it. */
interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
  readonly instant: boolean;
}

/**
 * infra/prometheus/prometheus.yml with its DNS discovery replaced by this test's static targets and
 * a 1 s scrape and rule interval; job names, paths and rule files stay as deployed. The API job
 * sends SETRAIN_METRICS_TOKEN, as the README says to for the per-sweep series.
 */
function testPrometheusConfig(targets: { api: string[]; workers: string[] }): string {
  const config = parse(readFileSync(join(INFRA, 'prometheus', 'prometheus.yml'), 'utf8')) as Json;
  const global = config.global as Json;
  global.scrape_interval = '1s';
  global.scrape_timeout = '1s';
  global.evaluation_interval = '1s';
  const jobs = (config.scrape_configs as Json[]).filter((job) => job.job_name !== 'prometheus');
  for (const job of jobs) {
    const dns = (job.dns_sd_configs as Json[] | undefined)?.[0];
    assert.ok(dns !== undefined, `${String(job.job_name)} is not discovered by DNS`);
    delete job.dns_sd_configs;
    const list = job.job_name === 'setrain-worker' ? targets.workers : targets.api;
    job.static_configs = [{ targets: list }];
    if (job.job_name === 'setrain-api')
      job.authorization = { type: 'Bearer', credentials: metricsToken };
  }
  config.scrape_configs = jobs;
  return stringify(config);
}

/** Every query of every dashboard, with Grafana's variables replaced by "all". */
function dashboardQueries(): PanelQuery[] {
  const dir = join(INFRA, 'grafana', 'dashboards');
  const out: PanelQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json;
    const variables = ((dashboard.templating as Json).list as Json[]).map((v) => String(v.name));
    for (const panel of dashboard.panels as Json[]) {
      for (const target of panel.targets as Json[]) {
        let expr = String(target.expr).replaceAll('$__rate_interval', RATE_INTERVAL);
        for (const name of variables) expr = expr.replaceAll(`$${name}`, '.*');
        assert.doesNotMatch(
          expr,
          /\$/,
          `${file} / ${String(panel.title)}: unknown variable in ${expr}`,
        );
        out.push({
          dashboard: String(dashboard.title),
          panel: String(panel.title),
          expr,
          instant: target.instant === true,
        });
      }
    }
  }
  return out;
}

function alertExpressions(): { name: string; expr: string }[] {
  const doc = parse(readFileSync(join(INFRA, 'prometheus', 'alerts.yml'), 'utf8')) as Json;
  return (doc.groups as Json[]).flatMap((group) =>
    (group.rules as Json[]).map((rule) => ({ name: String(rule.alert), expr: String(rule.expr) })),
  );
}

async function promRequest(url: string): Promise<{ resultType: string; result: unknown[] }> {
  const response = await fetch(url);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown[] };
  };
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(body.error ?? `HTTP ${response.status}`);
  }
  return body.data;
}

/** Series the query returns, as Grafana would ask: a range over `start..now`, or an instant. */
async function seriesCount(
  prom: PrometheusServer,
  query: PanelQuery,
  start: number,
): Promise<number> {
  const q = encodeURIComponent(query.expr);
  const now = Date.now() / 1000;
  const data = query.instant
    ? await promRequest(`${prom.url}/api/v1/query?query=${q}&time=${now}`)
    : await promRequest(
        `${prom.url}/api/v1/query_range?query=${q}&start=${start}&end=${now}&step=1`,
      );
  return data.resultType === 'scalar' ? 1 : data.result.length;
}

let redis: RedisServer;
let s3: S3Server;
let work: TempDir;
let apiRedis: Redis;
let app: ApiApp;
let apiUrl: string;
const workers: ServiceProcess[] = [];
const workerPorts: number[] = [];
let prometheus: PrometheusServer | undefined;
const apiKey = randomBytes(16).toString('hex');
const metricsToken = randomBytes(16).toString('hex');
const keyPrefix = `{obs-${randomBytes(4).toString('hex')}}`;
let bucket: string;
let startedAt: number;

before(async () => {
  startedAt = Date.now() / 1000;
  redis = await startRedis();
  s3 = await startS3();
  work = await tempDir('observability');
  bucket = await s3.createBucket(`obs-${randomBytes(4).toString('hex')}`);
  apiRedis = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  app = await buildApp({
    redis: apiRedis,
    s3: s3.client,
    keyPrefix,
    artifactsBucket: bucket,
    apiKeys: [apiKey],
    metricsToken,
    reconcileIntervalMs: 500,
  });
  const apiPort = await freePort();
  await app.listen({ port: apiPort, host: '127.0.0.1' });
  apiUrl = `http://127.0.0.1:${apiPort}`;
});

after(async () => {
  await prometheus?.stop();
  for (const worker of workers) await worker.stop(30_000);
  await app?.close();
  apiRedis?.disconnect();
  await s3?.stop();
  await redis?.stop();
  await work?.cleanup();
});

async function startWorkers(): Promise<void> {
  for (let i = 0; i < WORKERS; i++) {
    const port = await freePort();
    const env = {
      REDIS_URL: redis.url,
      SETRAIN_KEY_PREFIX: keyPrefix,
      ...s3EnvOf(s3),
      SETRAIN_ENGINE: 'wasm',
      SETRAIN_WORKER_ID: `obs-worker-${i + 1}`,
      SETRAIN_CACHE_DIR: join(work.path, `cache-${i + 1}`),
      METRICS_PORT: String(port),
      LOG_LEVEL: 'warn',
    };
    const worker = startNodeService(`worker-${i + 1}`, WORKER_MAIN, env);
    workers.push(worker);
    workerPorts.push(port);
    await waitFor(
      async () => {
        if (worker.exit() !== undefined) throw new Error(`worker exited:\n${worker.output()}`);
        const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        return response?.ok === true;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `worker ${i + 1} /metrics` },
    );
  }
}

test('the test config keeps the deployed jobs and rules and passes promtool', () => {
  const text = testPrometheusConfig({
    api: ['127.0.0.1:1'],
    workers: [`127.0.0.1:${DEFAULT_WORKER_METRICS_PORT}`],
  });
  const config = parse(text) as Json;
  const jobs = (config.scrape_configs as Json[]).map((j) => j.job_name);
  assert.deepEqual(jobs, ['setrain-api', 'setrain-worker']);
  assert.deepEqual(config.rule_files, ['alerts.yml']);
  const result = spawnSync(
    promtoolPath(),
    ['check', 'rules', join(INFRA, 'prometheus', 'alerts.yml')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test(
  'a small sweep on real workers gives every dashboard panel data and every alert rule evaluates',
  { timeout: SWEEP_TIMEOUT_MS + 180_000 },
  async () => {
    await startWorkers();
    const workerTargets = workerPorts.map((p) => `127.0.0.1:${p}`);
    prometheus = await startPrometheus({
      configYaml: testPrometheusConfig({
        api: [apiUrl.replace('http://', '')],
        workers: workerTargets,
      }),
      files: { 'alerts.yml': readFileSync(join(INFRA, 'prometheus', 'alerts.yml'), 'utf8') },
    });
    const prom = prometheus;
    await waitFor(
      async () =>
        (await prom.targets()).filter((t) => t.health === 'up').length === workerTargets.length + 1,
      {
        timeoutMs: 30_000,
        what: 'API and workers scraped',
      },
    );

    const dataset = await uploadShapesDataset(s3.client, bucket, 'datasets/shapes', {
      count: 8,
      seed: 5,
    });
    const spec = {
      name: 'observability',
      dataset: dataset.manifestUri,
      model: { inputSize: 75 },
      // Two epochs: the running trial's objective (set after epoch 1) is scraped for a while.
      training: { epochs: 2, batchSize: 3 },
      search: { strategy: 'grid', parameters: { dropout: [0.2, 0.5] } },
      objective: { metric: 'val_loss', goal: 'minimize' },
      maxTrials: 2,
      parallelism: 2,
    };
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const created = await fetch(`${apiUrl}/v1/sweeps`, {
      method: 'POST',
      headers,
      body: JSON.stringify(spec),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const sweep = sweepDetailSchema.parse(await created.json());
    // A 404 on purpose: the `unmatched` route series.
    assert.equal((await fetch(`${apiUrl}/no-such-route`, { headers })).status, 404);

    await waitFor(
      async () => {
        for (const worker of workers) {
          if (worker.exit() !== undefined)
            throw new Error(`${worker.name} exited:\n${worker.output()}`);
        }
        const response = await fetch(`${apiUrl}/v1/sweeps/${sweep.id}`, { headers });
        const detail = sweepDetailSchema.parse(await response.json());
        if (detail.status === 'failed' || detail.status === 'cancelled') {
          throw new Error(`sweep ${detail.status}: ${JSON.stringify(detail)}`);
        }
        return detail.status === 'completed';
      },
      { timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 1_000, what: `sweep ${sweep.id} to complete` },
    );
    // Prometheus must have scraped the finished state of every process.
    await waitFor(
      async () => {
        const finished = await prom.queryVector(
          'sum(setrain_trials_finished_total{outcome="completed"})',
        );
        const sweeps = await prom.queryVector('max(setrain_sweeps{status="completed"})');
        return Number(finished[0]?.value[1] ?? 0) >= 2 && Number(sweeps[0]?.value[1] ?? 0) >= 1;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'Prometheus to scrape the finished sweep' },
    );

    // The numbers agree with what ran: 2 trials x 2 epochs x 6 training images, on wasm, 2 workers.
    const value = async (q: string) => Number((await prom.queryVector(q))[0]?.value[1] ?? NaN);
    assert.equal(await value('sum(setrain_train_images_total)'), 24);
    assert.equal(await value('count(setrain_engine_info{engine="wasm"})'), WORKERS);
    assert.equal(await value('sum(setrain_trial_epoch_duration_seconds_count)'), 4);
    assert.equal(await value('max(setrain_trials{status="completed"})'), 2);

    const empty: string[] = [];
    for (const query of dashboardQueries()) {
      const count = await seriesCount(prom, query, startedAt);
      if (count === 0) empty.push(`${query.dashboard} / ${query.panel}: ${query.expr}`);
    }
    assert.deepEqual(empty, [], `panels without data:\n${empty.join('\n')}`);

    for (const rule of alertExpressions()) {
      await assert.doesNotReject(prom.query(rule.expr), `alert ${rule.name} does not parse`);
    }
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, alertExpressions().length, 'Prometheus did not load every rule');
    const unhealthy = loaded.filter((r) => r.health !== 'ok');
    assert.deepEqual(unhealthy, [], 'rules that failed to evaluate');
  },
);
