import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  CHECKPOINT_KINDS,
  DEFAULT_WORKER_METRICS_PORT,
  METRICS_PATH,
  metricConfig,
  TERMINAL_TRIAL_STATUSES,
  type CheckpointKind,
  type TrialStatus,
} from '@setrain/protocol';

/** Address the worker's metrics server binds unless told otherwise (reachable from Prometheus). */
export const DEFAULT_METRICS_HOST = '0.0.0.0';

/** tfjs' memory report (`tf.memory()`), read at scrape time. */
export interface TfjsMemoryInfo {
  readonly numTensors: number;
  readonly numBytes: number;
}

/** Dependencies of the worker's metrics. */
export interface WorkerMetricsDeps {
  /** Stable id of this worker (e.g. its hostname); becomes the `worker` label of every series.
   * Leave undefined to rely on Prometheus' `instance` label alone. */
  readonly workerId?: string;
  /** Returns `tf.memory()`; without it the tfjs gauges stay 0. */
  readonly tfjsMemory?: () => TfjsMemoryInfo;
  /** Also export prom-client's default process metrics (default true). */
  readonly collectDefaultMetrics?: boolean;
}

/** Why a worker gave a trial back to the queue without using an attempt. */
export const GIVE_BACK_REASONS = ['shutdown', 'outage', 'quarantine', 'lost-lock'] as const;
export type GiveBackReason = (typeof GIVE_BACK_REASONS)[number];

/** Outcomes of a finished trial (the terminal trial statuses). */
export type TrialFinishOutcome = Extract<
  TrialStatus,
  'completed' | 'early-stopped' | 'failed' | 'diverged' | 'cancelled'
>;

/**
 * A measurement as plain data, for code that runs apart from the registry: the trial process
 * (which trains) sends these over IPC and the worker process (which serves /metrics) passes them
 * to {@link WorkerMetrics.apply}.
 */
export type WorkerMetricEvent =
  | { readonly kind: 'engine'; readonly engine: string }
  /** One optimizer step; `dataWaitSeconds` is how long it waited for its batch. */
  | {
      readonly kind: 'step';
      readonly seconds: number;
      readonly images: number;
      readonly loss?: number;
      readonly dataWaitSeconds?: number;
    }
  /** One epoch finished (train, validation, checkpoint); `objective` is its validation value. */
  | {
      readonly kind: 'epoch';
      readonly seconds: number;
      readonly loss?: number;
      readonly objective?: number;
    }
  | { readonly kind: 'data-wait'; readonly seconds: number }
  | { readonly kind: 'cache'; readonly hits?: number; readonly misses?: number }
  | {
      readonly kind: 'checkpoint';
      readonly checkpoint: CheckpointKind;
      readonly seconds: number;
      readonly bytes: number;
    }
  | { readonly kind: 'tfjs-memory'; readonly numTensors: number; readonly numBytes: number };

/** The worker's metrics: a prom-client Registry plus the metric objects, built from the catalogue,
 * and small methods that keep related metrics consistent (call those rather than the raw objects). */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly engineInfo: Gauge<'engine'>;
  readonly workerTrialsRunning: Gauge;
  readonly workerQuarantined: Gauge;
  readonly workerReady: Gauge;
  readonly trialsGivenBackTotal: Counter<'reason'>;
  readonly trialEpochDurationSeconds: Histogram;
  readonly trainStepDurationSeconds: Histogram;
  readonly trainImagesTotal: Counter;
  readonly trainImagesPerSecond: Gauge;
  readonly trialLoss: Gauge<'sweep'>;
  readonly trialObjective: Gauge<'sweep'>;
  readonly trialFinalObjective: Gauge<'sweep'>;
  readonly trialsFinishedTotal: Counter<'outcome'>;
  readonly tfjsTensors: Gauge;
  readonly tfjsBytes: Gauge;
  readonly dataLoaderWaitSeconds: Histogram;
  readonly dataCacheHitsTotal: Counter;
  readonly dataCacheMissesTotal: Counter;
  readonly checkpointWriteDurationSeconds: Histogram<'kind'>;
  readonly checkpointBytes: Histogram<'kind'>;

  /** The engine initEngine picked (`tensorflow`, `webgpu`, `native`, `wasm`, `cpu`). */
  setEngine(engine: string): void;
  /** A trial starts on this worker: running = 1, per-trial gauges cleared and labelled `sweep`. */
  trialStarted(trial: { sweepId: string }): void;
  /** One optimizer step finished: step duration, images, images/s. */
  observeTrainStep(step: { seconds: number; images: number }): void;
  /** Latest loss (after a step or epoch) and/or objective (after validation) of the running trial. */
  setRunningTrial(values: { loss?: number; objective?: number }): void;
  /** One epoch (train + validation + checkpoint) finished. */
  observeEpoch(seconds: number): void;
  /** The loop waited this long for a batch. */
  observeDataLoaderWait(seconds: number): void;
  /** Dataset cache lookups: `hits` served locally, `misses` fetched from S3. */
  countCache(lookups: { hits?: number; misses?: number }): void;
  /** A checkpoint was written to S3. */
  observeCheckpoint(write: { kind: CheckpointKind; seconds: number; bytes: number }): void;
  /** The trial ended (any terminal status): running = 0, outcome counted, final objective set. */
  trialFinished(result: { outcome: TrialFinishOutcome; objective?: number | null }): void;
  /** The trial leaves this worker without ending (given back on shutdown, or failed with a retry
   * left): running = 0, no outcome counted. */
  trialReleased(): void;
  /** Whether the worker takes trials now and whether it is quarantined. */
  setReadiness(state: { ready: boolean; quarantined: boolean }): void;
  /** A trial went back to the queue without using an attempt. */
  countGiveBack(reason: GiveBackReason): void;
  /** tfjs memory as the training process last reported it (when tfjs runs in another process). */
  setTfjsMemory(memory: TfjsMemoryInfo): void;
  /** Records a measurement sent as data (see {@link WorkerMetricEvent}). */
  apply(event: WorkerMetricEvent): void;
  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string>;
  /** Content-Type of `scrape()`'s text. */
  readonly contentType: string;
}

/**
 * Builds the worker's registry from the catalogue. No label carries a trial or job id; `sweep`
 * is on gauges reset whenever the trial changes, so a worker has at most one series of each.
 */
export function createWorkerMetrics(deps: WorkerMetricsDeps = {}): WorkerMetrics {
  const registry = new Registry();
  if (deps.workerId !== undefined) registry.setDefaultLabels({ worker: deps.workerId });
  if (deps.collectDefaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const engineInfo = new Gauge<'engine'>(metricConfig('engineInfo', registry));
  const workerTrialsRunning = new Gauge(metricConfig('workerTrialsRunning', registry));
  const workerQuarantined = new Gauge(metricConfig('workerQuarantined', registry));
  const workerReady = new Gauge(metricConfig('workerReady', registry));
  const trialsGivenBackTotal = new Counter<'reason'>(
    metricConfig('trialsGivenBackTotal', registry),
  );
  const trialEpochDurationSeconds = new Histogram(
    metricConfig('trialEpochDurationSeconds', registry),
  );
  const trainStepDurationSeconds = new Histogram(
    metricConfig('trainStepDurationSeconds', registry),
  );
  const trainImagesTotal = new Counter(metricConfig('trainImagesTotal', registry));
  const trainImagesPerSecond = new Gauge(metricConfig('trainImagesPerSecond', registry));
  const trialLoss = new Gauge<'sweep'>(metricConfig('trialLoss', registry));
  const trialObjective = new Gauge<'sweep'>(metricConfig('trialObjective', registry));
  const trialFinalObjective = new Gauge<'sweep'>(metricConfig('trialFinalObjective', registry));
  const trialsFinishedTotal = new Counter<'outcome'>(metricConfig('trialsFinishedTotal', registry));
  const tfjsTensors = new Gauge({
    ...metricConfig('tfjsTensors', registry),
    collect() {
      if (deps.tfjsMemory !== undefined) this.set(deps.tfjsMemory().numTensors);
    },
  });
  const tfjsBytes = new Gauge({
    ...metricConfig('tfjsBytes', registry),
    collect() {
      if (deps.tfjsMemory !== undefined) this.set(deps.tfjsMemory().numBytes);
    },
  });
  const dataLoaderWaitSeconds = new Histogram(metricConfig('dataLoaderWaitSeconds', registry));
  const dataCacheHitsTotal = new Counter(metricConfig('dataCacheHitsTotal', registry));
  const dataCacheMissesTotal = new Counter(metricConfig('dataCacheMissesTotal', registry));
  const checkpointWriteDurationSeconds = new Histogram<'kind'>(
    metricConfig('checkpointWriteDurationSeconds', registry),
  );
  const checkpointBytes = new Histogram<'kind'>(metricConfig('checkpointBytes', registry));

  // Zero every bounded label value up front, so rate() and absent() see series from the start.
  for (const outcome of TERMINAL_TRIAL_STATUSES) trialsFinishedTotal.inc({ outcome }, 0);
  for (const kind of CHECKPOINT_KINDS) {
    checkpointWriteDurationSeconds.zero({ kind });
    checkpointBytes.zero({ kind });
  }
  for (const reason of GIVE_BACK_REASONS) trialsGivenBackTotal.inc({ reason }, 0);
  workerTrialsRunning.set(0);
  workerQuarantined.set(0);
  workerReady.set(0);
  trainImagesPerSecond.set(0);

  let currentSweep: string | undefined;

  const metrics: WorkerMetrics = {
    registry,
    engineInfo,
    workerTrialsRunning,
    workerQuarantined,
    workerReady,
    trialsGivenBackTotal,
    trialEpochDurationSeconds,
    trainStepDurationSeconds,
    trainImagesTotal,
    trainImagesPerSecond,
    trialLoss,
    trialObjective,
    trialFinalObjective,
    trialsFinishedTotal,
    tfjsTensors,
    tfjsBytes,
    dataLoaderWaitSeconds,
    dataCacheHitsTotal,
    dataCacheMissesTotal,
    checkpointWriteDurationSeconds,
    checkpointBytes,
    setEngine(engine) {
      engineInfo.reset();
      engineInfo.set({ engine }, 1);
    },
    trialStarted({ sweepId }) {
      currentSweep = sweepId;
      trialLoss.reset();
      trialObjective.reset();
      workerTrialsRunning.set(1);
    },
    observeTrainStep({ seconds, images }) {
      trainStepDurationSeconds.observe(seconds);
      trainImagesTotal.inc(images);
      if (seconds > 0) trainImagesPerSecond.set(images / seconds);
    },
    setRunningTrial({ loss, objective }) {
      const labels = { sweep: currentSweep ?? 'none' };
      if (loss !== undefined && Number.isFinite(loss)) trialLoss.set(labels, loss);
      if (objective !== undefined && Number.isFinite(objective))
        trialObjective.set(labels, objective);
    },
    observeEpoch(seconds) {
      trialEpochDurationSeconds.observe(seconds);
    },
    observeDataLoaderWait(seconds) {
      dataLoaderWaitSeconds.observe(seconds);
    },
    countCache({ hits = 0, misses = 0 }) {
      if (hits > 0) dataCacheHitsTotal.inc(hits);
      if (misses > 0) dataCacheMissesTotal.inc(misses);
    },
    observeCheckpoint({ kind, seconds, bytes }) {
      checkpointWriteDurationSeconds.observe({ kind }, seconds);
      checkpointBytes.observe({ kind }, bytes);
    },
    trialFinished({ outcome, objective }) {
      trialsFinishedTotal.inc({ outcome });
      if (objective !== undefined && objective !== null && Number.isFinite(objective)) {
        trialFinalObjective.reset();
        trialFinalObjective.set({ sweep: currentSweep ?? 'none' }, objective);
      }
      metrics.trialReleased();
    },
    trialReleased() {
      trialLoss.reset();
      trialObjective.reset();
      workerTrialsRunning.set(0);
      trainImagesPerSecond.set(0);
      currentSweep = undefined;
    },
    setReadiness({ ready, quarantined }) {
      workerReady.set(ready ? 1 : 0);
      workerQuarantined.set(quarantined ? 1 : 0);
    },
    countGiveBack(reason) {
      trialsGivenBackTotal.inc({ reason });
    },
    setTfjsMemory({ numTensors, numBytes }) {
      tfjsTensors.set(numTensors);
      tfjsBytes.set(numBytes);
    },
    apply(event) {
      switch (event.kind) {
        case 'engine':
          metrics.setEngine(event.engine);
          break;
        case 'step':
          metrics.observeTrainStep(event);
          if (event.dataWaitSeconds !== undefined)
            metrics.observeDataLoaderWait(event.dataWaitSeconds);
          if (event.loss !== undefined) metrics.setRunningTrial({ loss: event.loss });
          break;
        case 'epoch':
          metrics.observeEpoch(event.seconds);
          metrics.setRunningTrial(event);
          break;
        case 'data-wait':
          metrics.observeDataLoaderWait(event.seconds);
          break;
        case 'cache':
          metrics.countCache(event);
          break;
        case 'checkpoint':
          metrics.observeCheckpoint({
            kind: event.checkpoint,
            seconds: event.seconds,
            bytes: event.bytes,
          });
          break;
        case 'tfjs-memory':
          metrics.setTfjsMemory(event);
          break;
      }
    },
    scrape: () => registry.metrics(),
    contentType: registry.contentType,
  };
  return metrics;
}

/** Options of the worker's metrics server. */
export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one. Default DEFAULT_WORKER_METRICS_PORT. */
  readonly port?: number;
  /** Address to bind; default DEFAULT_METRICS_HOST (all interfaces, for Prometheus). */
  readonly host?: string;
  /**
   * Readiness for `GET /readyz`: undefined when ready, else why not (answered 503). Default:
   * always ready.
   */
  readonly notReadyReason?: () => string | undefined;
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port it listens on (the real one when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics`, `GET /healthz` (the process answers) and `GET /readyz` (it takes trials:
 * 503 with the reason while its engine preflight runs, during an outage or in quarantine) on its own port, apart
 * from anything else the worker does. The server does not keep the process alive on its own.
 */
export async function startMetricsServer(
  metrics: Pick<WorkerMetrics, 'scrape' | 'contentType'>,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === METRICS_PATH) {
      metrics.scrape().then(
        (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: unknown) =>
          response
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(
              `metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`,
            ),
      );
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const notReady = options.notReadyReason?.();
      response
        .writeHead(notReady === undefined ? 200 : 503, { 'content-type': 'text/plain' })
        .end(notReady === undefined ? 'ready\n' : `not ready: ${notReady}\n`);
    } else {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`not found; try ${METRICS_PATH}\n`);
    }
  });
  server.listen(options.port ?? DEFAULT_WORKER_METRICS_PORT, options.host ?? DEFAULT_METRICS_HOST);
  await once(server, 'listening');
  server.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}
