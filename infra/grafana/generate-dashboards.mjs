#!/usr/bin/env node
// Writes the Grafana dashboards in infra/grafana/dashboards/ from the panel lists below, so every
// panel has the same datasource, layout and units. Usage:
//   node infra/grafana/generate-dashboards.mjs          rewrite the JSON files
//   node infra/grafana/generate-dashboards.mjs --check  exit 1 if a JSON file differs
// Metric names come from packages/protocol/src/metrics.ts; test/observability.test.ts runs every
// query below against a real Prometheus scraping a real sweep.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const outDir = join(import.meta.dirname, 'dashboards');
const DATASOURCE = { type: 'prometheus', uid: 'prometheus' };
const RATE = '$__rate_interval';

/**
 * @typedef {{ expr: string, legend?: string, instant?: boolean }} Target
 * @typedef {{ title: string, description: string, type?: string, unit?: string, w?: number, h?: number,
 *   targets: Target[], points?: boolean, stack?: boolean, decimals?: number }} PanelSpec
 */

/** @param {PanelSpec[]} specs */
function layout(specs) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return specs.map((spec, index) => {
    const w = spec.w ?? 12;
    const h = spec.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return panel(spec, index + 1, gridPos);
  });
}

/** @param {PanelSpec} spec @param {number} id @param {object} gridPos */
function panel(spec, id, gridPos) {
  const type = spec.type ?? 'timeseries';
  const custom =
    type === 'timeseries'
      ? {
          drawStyle: spec.points ? 'points' : 'line',
          pointSize: spec.points ? 8 : 4,
          showPoints: spec.points ? 'always' : 'never',
          lineWidth: 1,
          fillOpacity: spec.stack ? 40 : 10,
          stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
          spanNulls: false,
        }
      : {};
  return {
    id,
    type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: {
        unit: spec.unit ?? 'short',
        ...(spec.decimals === undefined ? {} : { decimals: spec.decimals }),
        custom,
      },
      overrides: [],
    },
    options:
      type === 'timeseries'
        ? {
            legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] },
            tooltip: { mode: 'multi' },
          }
        : {
            reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
            orientation: 'auto',
            showHeader: true,
          },
    targets: spec.targets.map((target, index) => ({
      refId: String.fromCharCode(65 + index),
      datasource: DATASOURCE,
      expr: target.expr,
      legendFormat: target.legend ?? '__auto',
      instant: target.instant ?? type !== 'timeseries',
      range: !(target.instant ?? type !== 'timeseries'),
    })),
  };
}

/** @param {string} name @param {string} label @param {string} query */
function variable(name, label, query) {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: `${name}-values` },
    definition: query,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
  };
}

/** @param {{ uid: string, title: string, description: string, tags: string[], variables: object[], panels: PanelSpec[] }} d */
function dashboard(d) {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['setrain', ...d.tags],
    editable: false,
    schemaVersion: 39,
    version: 1,
    graphTooltip: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: 'utc',
    annotations: { list: [] },
    links: [{ title: 'setrain', type: 'dashboards', tags: ['setrain'], asDropdown: true }],
    templating: { list: d.variables },
    panels: layout(d.panels),
  };
}

const sweepOverview = dashboard({
  uid: 'setrain-sweeps',
  title: 'setrain / Sweep overview',
  description:
    'Progress of hyperparameter sweeps: trials by status, objective values, queue and throughput.',
  tags: ['sweeps'],
  variables: [variable('sweep', 'Sweep', 'label_values(setrain_sweep_best_objective, sweep)')],
  panels: [
    {
      title: 'Trials by status',
      description:
        'Trials of every sweep stored in Redis, by status (read by the API at scrape time).',
      type: 'bargauge',
      w: 8,
      targets: [{ expr: 'max by (status) (setrain_trials)', legend: '{{status}}' }],
    },
    {
      title: 'Sweeps by status',
      description: 'Sweeps stored in Redis, by status.',
      type: 'bargauge',
      w: 8,
      targets: [{ expr: 'max by (status) (setrain_sweeps)', legend: '{{status}}' }],
    },
    {
      title: 'Trials running now',
      description: 'Workers training a trial right now.',
      type: 'stat',
      w: 8,
      targets: [{ expr: 'sum(setrain_worker_trials_running)', legend: 'running' }],
    },
    {
      title: 'Best objective so far',
      description:
        "Best objective value of each unfinished or recent sweep (the sweep's goal decides min or max).",
      targets: [
        {
          // A multi-objective sweep has one series per objective (label `objective`).
          expr: 'max by (sweep, objective) (setrain_sweep_best_objective{sweep=~"$sweep"})',
          legend: '{{sweep}} {{objective}}',
        },
      ],
    },
    {
      title: 'Objective per finished trial',
      description:
        'One point per finished trial: the objective value the worker reported when the trial ended.',
      points: true,
      targets: [
        {
          expr: 'max by (sweep, instance) (setrain_trial_final_objective{sweep=~"$sweep"})',
          legend: '{{sweep}} on {{instance}}',
        },
      ],
    },
    {
      title: 'Running trials: objective and loss',
      description: 'Latest validation objective and training loss of the trials running now.',
      targets: [
        {
          expr: 'setrain_trial_objective{sweep=~"$sweep"}',
          legend: 'objective {{sweep}} on {{instance}}',
        },
        { expr: 'setrain_trial_loss{sweep=~"$sweep"}', legend: 'loss {{sweep}} on {{instance}}' },
      ],
    },
    {
      title: 'Queue depth',
      description:
        'Jobs per queue and state. Waiting trials are waiting + prioritized (BullMQ keeps prioritized jobs apart).',
      stack: true,
      targets: [
        {
          expr: 'max by (queue, state) (setrain_queue_jobs{state=~"waiting|prioritized|active|delayed|waiting-children"})',
          legend: '{{queue}} {{state}}',
        },
      ],
    },
    {
      title: 'Throughput: training images per second',
      description: 'Images per second over the whole fleet (rate of setrain_train_images_total).',
      unit: 'short',
      targets: [{ expr: `sum(rate(setrain_train_images_total[${RATE}]))`, legend: 'fleet img/s' }],
    },
    {
      title: 'Trials finished per hour by outcome',
      description: 'Trials the workers finished in the last hour, by outcome.',
      stack: true,
      targets: [
        {
          expr: 'sum by (outcome) (increase(setrain_trials_finished_total[1h]))',
          legend: '{{outcome}}',
        },
      ],
    },
  ],
});

const workerFleet = dashboard({
  uid: 'setrain-workers',
  title: 'setrain / Worker fleet',
  description: 'Per-worker training speed, step time, engine, memory and data loading.',
  tags: ['workers'],
  variables: [variable('instance', 'Worker', 'label_values(up{job="setrain-worker"}, instance)')],
  panels: [
    {
      title: 'Workers up',
      description: 'Scrape health of every worker Prometheus found by DNS (1 = up).',
      type: 'stat',
      w: 8,
      targets: [
        { expr: 'up{job="setrain-worker", instance=~"$instance"}', legend: '{{instance}}' },
      ],
    },
    {
      title: 'Engine in use',
      description: 'The tfjs engine each worker trains on.',
      type: 'table',
      w: 8,
      targets: [
        {
          expr: 'max by (instance, engine) (setrain_engine_info{instance=~"$instance"})',
          legend: '{{instance}} {{engine}}',
        },
      ],
    },
    {
      title: 'Trial running',
      description: '1 while a worker trains a trial.',
      type: 'stat',
      w: 8,
      targets: [
        { expr: 'setrain_worker_trials_running{instance=~"$instance"}', legend: '{{instance}}' },
      ],
    },
    {
      title: 'Images per second per worker',
      description: 'Training throughput of each worker.',
      targets: [
        {
          expr: `sum by (instance) (rate(setrain_train_images_total{instance=~"$instance"}[${RATE}]))`,
          legend: '{{instance}}',
        },
        {
          expr: 'setrain_train_images_per_second{instance=~"$instance"}',
          legend: '{{instance}} last step',
        },
      ],
    },
    {
      title: 'Train step time quantiles',
      description: 'p50, p90 and p99 of one optimizer step, per worker.',
      unit: 's',
      targets: [0.5, 0.9, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le, instance) (rate(setrain_train_step_duration_seconds_bucket{instance=~"$instance"}[${RATE}])))`,
        legend: `p${q * 100} {{instance}}`,
      })),
    },
    {
      title: 'Epoch duration',
      description:
        'Mean wall time of an epoch (training, validation, checkpoint) over the last hour.',
      unit: 's',
      targets: [
        {
          expr: 'sum by (instance) (increase(setrain_trial_epoch_duration_seconds_sum{instance=~"$instance"}[1h])) / sum by (instance) (increase(setrain_trial_epoch_duration_seconds_count{instance=~"$instance"}[1h]))',
          legend: '{{instance}}',
        },
      ],
    },
    {
      title: 'Memory',
      description: 'Resident memory of the worker process and bytes tfjs holds in tensors.',
      unit: 'bytes',
      targets: [
        {
          expr: 'process_resident_memory_bytes{job="setrain-worker", instance=~"$instance"}',
          legend: 'rss {{instance}}',
        },
        { expr: 'setrain_tfjs_bytes{instance=~"$instance"}', legend: 'tfjs {{instance}}' },
      ],
    },
    {
      title: 'tfjs tensors',
      description: 'Tensors tfjs holds after each epoch; a steady climb is a leak.',
      targets: [{ expr: 'setrain_tfjs_tensors{instance=~"$instance"}', legend: '{{instance}}' }],
    },
    {
      title: 'Data-loader wait',
      description:
        'p90 time the training loop waited for its next batch, and the share of step time spent waiting.',
      unit: 's',
      targets: [
        {
          expr: `histogram_quantile(0.9, sum by (le, instance) (rate(setrain_data_loader_wait_seconds_bucket{instance=~"$instance"}[${RATE}])))`,
          legend: 'p90 wait {{instance}}',
        },
        {
          expr: `sum by (instance) (rate(setrain_data_loader_wait_seconds_sum{instance=~"$instance"}[${RATE}])) / sum by (instance) (rate(setrain_train_step_duration_seconds_sum{instance=~"$instance"}[${RATE}]))`,
          legend: 'wait / step time {{instance}}',
        },
      ],
    },
    {
      title: 'Dataset cache',
      description: 'Images served from the local cache and fetched from S3 (cumulative).',
      targets: [
        {
          expr: 'sum by (instance) (setrain_data_cache_hits_total{instance=~"$instance"})',
          legend: 'hits {{instance}}',
        },
        {
          expr: 'sum by (instance) (setrain_data_cache_misses_total{instance=~"$instance"})',
          legend: 'misses {{instance}}',
        },
      ],
    },
    {
      title: 'Checkpoint writes',
      description: 'Mean checkpoint write time and size over the last hour, by kind.',
      unit: 's',
      targets: [
        {
          expr: 'sum by (instance, kind) (increase(setrain_checkpoint_write_duration_seconds_sum{instance=~"$instance"}[1h])) / sum by (instance, kind) (increase(setrain_checkpoint_write_duration_seconds_count{instance=~"$instance"}[1h]))',
          legend: '{{kind}} {{instance}}',
        },
      ],
    },
    {
      title: 'Checkpoint size',
      description: 'Mean bytes per checkpoint over the last hour, by kind.',
      unit: 'bytes',
      targets: [
        {
          expr: 'sum by (instance, kind) (increase(setrain_checkpoint_bytes_sum{instance=~"$instance"}[1h])) / sum by (instance, kind) (increase(setrain_checkpoint_bytes_count{instance=~"$instance"}[1h]))',
          legend: '{{kind}} {{instance}}',
        },
      ],
    },
    {
      title: 'Event loop lag (p99)',
      description: 'A blocked event loop delays BullMQ lock renewal; long blocks make jobs stall.',
      unit: 's',
      targets: [
        {
          expr: 'nodejs_eventloop_lag_p99_seconds{job="setrain-worker", instance=~"$instance"}',
          legend: '{{instance}}',
        },
      ],
    },
  ],
});

const apiHealth = dashboard({
  uid: 'setrain-api',
  title: 'setrain / API health',
  description:
    'Request rate, latency and errors of the HTTP API, its process, and its view of Redis.',
  tags: ['api'],
  variables: [],
  panels: [
    {
      title: 'API up',
      description: 'Scrape health of every API replica.',
      type: 'stat',
      w: 8,
      targets: [{ expr: 'up{job="setrain-api"}', legend: '{{instance}}' }],
    },
    {
      title: '5xx ratio',
      description: 'Share of requests answered with a 5xx status.',
      type: 'stat',
      unit: 'percentunit',
      w: 8,
      targets: [
        {
          expr: `(sum(rate(setrain_http_requests_total{status_code=~"5.."}[${RATE}])) or vector(0)) / sum(rate(setrain_http_requests_total[${RATE}]))`,
          legend: '5xx',
        },
      ],
    },
    {
      title: 'Registered workers',
      description: 'Workers with a heartbeat entry in Redis.',
      type: 'stat',
      w: 8,
      targets: [{ expr: 'max(setrain_workers_registered)', legend: 'workers' }],
    },
    {
      title: 'Requests per second by route and status',
      description: 'Route templates, never raw URLs; unmatched requests share one series.',
      unit: 'reqps',
      targets: [
        {
          expr: `sum by (method, route, status_code) (rate(setrain_http_requests_total[${RATE}]))`,
          legend: '{{method}} {{route}} {{status_code}}',
        },
      ],
    },
    {
      title: 'Request latency quantiles',
      description: 'p50, p95, p99 request duration per route.',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le, route) (rate(setrain_http_request_duration_seconds_bucket[${RATE}])))`,
        legend: `p${q * 100} {{route}}`,
      })),
    },
    {
      title: 'API process',
      description: 'Resident memory and CPU of each API replica.',
      unit: 'bytes',
      targets: [
        { expr: 'process_resident_memory_bytes{job="setrain-api"}', legend: 'rss {{instance}}' },
      ],
    },
    {
      title: 'API CPU',
      description: 'CPU seconds per second used by each API replica.',
      unit: 'percentunit',
      targets: [
        {
          expr: `rate(process_cpu_seconds_total{job="setrain-api"}[${RATE}])`,
          legend: '{{instance}}',
        },
      ],
    },
    {
      title: 'Event loop lag (p99)',
      description: 'Event loop lag of each API replica.',
      unit: 's',
      targets: [
        { expr: 'nodejs_eventloop_lag_p99_seconds{job="setrain-api"}', legend: '{{instance}}' },
      ],
    },
    {
      title: 'Metrics collection errors',
      description:
        'Scrapes during which the API could not read queue, sweep or worker state from Redis.',
      targets: [
        {
          expr: 'sum by (collector) (increase(setrain_metrics_collect_errors_total[1h]))',
          legend: '{{collector}}',
        },
      ],
    },
  ],
});

const files = {
  'sweep-overview.json': sweepOverview,
  'worker-fleet.json': workerFleet,
  'api-health.json': apiHealth,
};

const check = process.argv.includes('--check');
let stale = 0;
for (const [name, content] of Object.entries(files)) {
  const path = join(outDir, name);
  const text = `${JSON.stringify(content, null, 2)}\n`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${path} is stale: run node infra/grafana/generate-dashboards.mjs`);
      stale += 1;
    }
  } else {
    writeFileSync(path, text);
  }
}
process.exit(stale === 0 ? 0 : 1);
