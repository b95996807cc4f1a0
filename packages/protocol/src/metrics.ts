/**
 * The Prometheus metric catalogue: every metric setrain exports, with its help text, type, label
 * names and buckets. apps/api and apps/worker build their prom-client registries from it, and the
 * Grafana dashboards, alert rules and KEDA trigger in infra/ query these names. Nothing else
 * declares a metric name.
 *
 * Labels are bounded by design: never a trial id or a job id. `sweep` appears only on gauges a
 * worker resets when its trial changes (one series per process) and on the API's per-sweep gauge,
 * which covers only unfinished sweeps and the few most recent ones and which the API serves only
 * to scrapers with SETRAIN_METRICS_TOKEN.
 */

/** Prefix of every setrain metric (prom-client's default process metrics keep their own names). */
export const METRICS_NAMESPACE = 'setrain';

/** Port a worker serves /metrics on unless configured otherwise (METRICS_PORT). */
export const DEFAULT_WORKER_METRICS_PORT = 9464;
/** Path the API and the workers serve the Prometheus text format on. */
export const METRICS_PATH = '/metrics';

export const METRIC_TYPES = ['counter', 'gauge', 'histogram'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** One metric of the catalogue. */
export interface MetricDefinition {
  /** Full Prometheus name, `setrain_...`; counters end in `_total`, units are base units. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Histogram bucket upper bounds (histograms only). */
  readonly buckets?: readonly number[];
  /** Which process exports it. */
  readonly exportedBy: 'api' | 'worker';
}

/** BullMQ job states the API reports per queue (`getJobCounts`); `prioritized` jobs are waiting
 * too, but BullMQ keeps them outside the plain wait list, so "waiting trials" is
 * `state=~"waiting|prioritized"`. */
export const QUEUE_JOB_STATES = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'waiting-children',
  'completed',
  'failed',
] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/** States that count as waiting for a worker (what KEDA scales on). */
export const QUEUE_WAITING_STATES: readonly QueueJobState[] = ['waiting', 'prioritized'];

/** Sweep statuses the API reports; a sweep state in Redis with another status counts as `unknown`. */
export const SWEEP_METRIC_STATUSES = [
  'running',
  'paused',
  'completed',
  'failed',
  'cancelled',
  'unknown',
] as const;
export type SweepMetricStatus = (typeof SWEEP_METRIC_STATUSES)[number];

/** `route` label of requests no route matched (404s), so unknown URLs cannot add series. */
export const HTTP_UNMATCHED_ROUTE = 'unmatched';

/** Checkpoint kinds a worker writes. */
export const CHECKPOINT_KINDS = ['epoch', 'final'] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

const SECONDS_SHORT = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const SECONDS_STEP = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120] as const;
const SECONDS_EPOCH = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] as const;
const SECONDS_IO = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;
const SECONDS_WAIT = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const BYTES_CHECKPOINT = [1e5, 1e6, 1e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 2e9] as const;

/** Every setrain metric, keyed by the property name the apps' metric objects use. */
export const METRIC_CATALOGUE = {
  // ---- API ----
  httpRequestDurationSeconds: {
    name: 'setrain_http_request_duration_seconds',
    help: 'Duration of HTTP requests the API answered, by route template, method and status code.',
    type: 'histogram',
    labelNames: ['method', 'route', 'status_code'],
    buckets: SECONDS_SHORT,
    exportedBy: 'api',
  },
  httpRequestsTotal: {
    name: 'setrain_http_requests_total',
    help: 'HTTP requests the API answered, by route template, method and status code.',
    type: 'counter',
    labelNames: ['method', 'route', 'status_code'],
    exportedBy: 'api',
  },
  queueJobs: {
    name: 'setrain_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (prioritized jobs wait outside the plain wait list).',
    type: 'gauge',
    labelNames: ['queue', 'state'],
    exportedBy: 'api',
  },
  sweeps: {
    name: 'setrain_sweeps',
    help: 'Unfinished sweeps and the 10 most recent ones, by status.',
    type: 'gauge',
    labelNames: ['status'],
    exportedBy: 'api',
  },
  trials: {
    name: 'setrain_trials',
    help: 'Trials of the unfinished sweeps and the 10 most recent ones, by status.',
    type: 'gauge',
    labelNames: ['status'],
    exportedBy: 'api',
  },
  sweepBestObjective: {
    name: 'setrain_sweep_best_objective',
    help: 'Best objective value so far of the unfinished sweeps and the 10 most recent ones (served only with SETRAIN_METRICS_TOKEN); a multi-objective sweep has one series per objective (label objective): its best value over the trials.',
    type: 'gauge',
    labelNames: ['sweep', 'objective'],
    exportedBy: 'api',
  },
  workersRegistered: {
    name: 'setrain_workers_registered',
    help: 'Workers with a heartbeat entry in Redis.',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'api',
  },
  metricsCollectErrorsTotal: {
    name: 'setrain_metrics_collect_errors_total',
    help: 'Scrapes during which reading queue or sweep state from Redis failed.',
    type: 'counter',
    labelNames: ['collector'],
    exportedBy: 'api',
  },

  // ---- worker ----
  engineInfo: {
    name: 'setrain_engine_info',
    help: 'The tfjs engine (backend) this worker trains on; value 1.',
    type: 'gauge',
    labelNames: ['engine'],
    exportedBy: 'worker',
  },
  workerTrialsRunning: {
    name: 'setrain_worker_trials_running',
    help: 'Trials this worker is training right now (0 or 1).',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  workerQuarantined: {
    name: 'setrain_worker_quarantined',
    help: 'Whether this worker stopped taking trials after consecutive infrastructure failures (1) or not (0).',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  workerReady: {
    name: 'setrain_worker_ready',
    help: 'Whether this worker takes trials now (1): engine preflight passed, no outage, not quarantined.',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  trialsGivenBackTotal: {
    name: 'setrain_worker_trials_given_back_total',
    help: 'Trials this worker gave back to the queue without using an attempt, by reason.',
    type: 'counter',
    labelNames: ['reason'],
    exportedBy: 'worker',
  },
  trialEpochDurationSeconds: {
    name: 'setrain_trial_epoch_duration_seconds',
    help: 'Wall time of one training epoch including validation and checkpoint.',
    type: 'histogram',
    labelNames: [],
    buckets: SECONDS_EPOCH,
    exportedBy: 'worker',
  },
  trainStepDurationSeconds: {
    name: 'setrain_train_step_duration_seconds',
    help: 'Wall time of one optimizer step (one batch forward, backward and update).',
    type: 'histogram',
    labelNames: [],
    buckets: SECONDS_STEP,
    exportedBy: 'worker',
  },
  trainImagesTotal: {
    name: 'setrain_train_images_total',
    help: 'Training images this worker has stepped through.',
    type: 'counter',
    labelNames: [],
    exportedBy: 'worker',
  },
  trainImagesPerSecond: {
    name: 'setrain_train_images_per_second',
    help: 'Training throughput of the last step (images per second); 0 when idle.',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  trialLoss: {
    name: 'setrain_trial_loss',
    help: 'Latest training loss of the trial this worker runs.',
    type: 'gauge',
    labelNames: ['sweep'],
    exportedBy: 'worker',
  },
  trialObjective: {
    name: 'setrain_trial_objective',
    help: 'Latest objective value (validation metric) of the trial this worker runs.',
    type: 'gauge',
    labelNames: ['sweep'],
    exportedBy: 'worker',
  },
  trialFinalObjective: {
    name: 'setrain_trial_final_objective',
    help: 'Objective value of the last trial this worker finished (one point per finished trial).',
    type: 'gauge',
    labelNames: ['sweep'],
    exportedBy: 'worker',
  },
  trialsFinishedTotal: {
    name: 'setrain_trials_finished_total',
    help: 'Trials this worker finished, by outcome.',
    type: 'counter',
    labelNames: ['outcome'],
    exportedBy: 'worker',
  },
  tfjsTensors: {
    name: 'setrain_tfjs_tensors',
    help: 'Tensors tfjs holds (tf.memory().numTensors); growth between trials is a leak.',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  tfjsBytes: {
    name: 'setrain_tfjs_bytes',
    help: 'Bytes tfjs holds in tensors (tf.memory().numBytes).',
    type: 'gauge',
    labelNames: [],
    exportedBy: 'worker',
  },
  dataLoaderWaitSeconds: {
    name: 'setrain_data_loader_wait_seconds',
    help: 'Time the training loop waited for the next batch from the data loader.',
    type: 'histogram',
    labelNames: [],
    buckets: SECONDS_WAIT,
    exportedBy: 'worker',
  },
  dataCacheHitsTotal: {
    name: 'setrain_data_cache_hits_total',
    help: 'Dataset images served from the local cache.',
    type: 'counter',
    labelNames: [],
    exportedBy: 'worker',
  },
  dataCacheMissesTotal: {
    name: 'setrain_data_cache_misses_total',
    help: 'Dataset images fetched from S3 because the local cache lacked them.',
    type: 'counter',
    labelNames: [],
    exportedBy: 'worker',
  },
  checkpointWriteDurationSeconds: {
    name: 'setrain_checkpoint_write_duration_seconds',
    help: 'Time to write one checkpoint (weights, optimizer state, metadata) to S3.',
    type: 'histogram',
    labelNames: ['kind'],
    buckets: SECONDS_IO,
    exportedBy: 'worker',
  },
  checkpointBytes: {
    name: 'setrain_checkpoint_bytes',
    help: 'Size of each checkpoint written to S3.',
    type: 'histogram',
    labelNames: ['kind'],
    buckets: BYTES_CHECKPOINT,
    exportedBy: 'worker',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRIC_CATALOGUE;

/** Catalogue keys of the metrics one process exports. */
export function metricKeysOf(process: 'api' | 'worker'): MetricKey[] {
  return (Object.keys(METRIC_CATALOGUE) as MetricKey[]).filter(
    (key) => METRIC_CATALOGUE[key].exportedBy === process,
  );
}
