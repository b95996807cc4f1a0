import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  DEFAULT_KEY_PREFIX,
  HTTP_UNMATCHED_ROUTE,
  METRICS_PATH,
  metricConfig,
  QUEUE_JOB_STATES,
  SWEEP_METRIC_STATUSES,
  TRIAL_STATUSES,
  isBetter,
  TRIAL_METRIC_NAMES,
  redisKeys,
  type Goal,
  type QueueJobState,
  type SweepMetricStatus,
  type TrialStatus,
} from '@setrain/protocol';

import { ApiKeyVerifier } from './auth.js';
import { ApiError } from './errors.js';

/** The sweep gauges cover the unfinished sweeps (the active set) and this many of the most
 * recent ones, so a scrape reads O(active sweeps), however many sweeps Redis holds. */
export const DEFAULT_RECENT_SWEEPS = 10;
/** Concurrent collectors of one scrape share one read of sweep state from Redis. */
export const DEFAULT_SNAPSHOT_TTL_MS = 1_000;

/** What the queue-depth collector needs of a BullMQ Queue. */
export interface MetricsQueue {
  readonly name: string;
  getJobCounts(...types: QueueJobState[]): Promise<Record<string, number>>;
}

/** What the sweep collectors need of a Redis client (an ioredis Redis). */
export type MetricsRedis = Pick<Redis, 'zrevrange' | 'smembers' | 'mget' | 'hvals' | 'hlen'>;

/** Dependencies of the API's metrics. */
export interface ApiMetricsDeps {
  /** Every BullMQ queue the system uses; depth is reported per queue and state. */
  readonly queues: readonly MetricsQueue[];
  /** Redis holding sweep and trial state (`redisKeys(keyPrefix)`). */
  readonly redis: MetricsRedis;
  /** Key prefix of setrain's Redis keys; default DEFAULT_KEY_PREFIX. */
  readonly keyPrefix?: string;
  /** Most recent sweeps the sweep gauges cover besides the unfinished ones; default
   * DEFAULT_RECENT_SWEEPS. */
  readonly recentSweeps?: number;
  /** Also export prom-client's default process metrics (default true). */
  readonly collectDefaultMetrics?: boolean;
  /** Labels added to every series of this registry (keep them bounded). */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

type HttpLabels = 'method' | 'route' | 'status_code';

/** The API's metrics: a prom-client Registry plus the metric objects, built from the catalogue. */
export interface ApiMetrics {
  /** Aggregates only: no label names a sweep. */
  readonly registry: Registry;
  /** The per-sweep series (`sweep` label), served only with SETRAIN_METRICS_TOKEN. */
  readonly detailRegistry: Registry;
  readonly httpRequestDurationSeconds: Histogram<HttpLabels>;
  readonly httpRequestsTotal: Counter<HttpLabels>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly sweeps: Gauge<'status'>;
  readonly trials: Gauge<'status'>;
  readonly sweepBestObjective: Gauge<'sweep' | 'objective'>;
  readonly workersRegistered: Gauge;
  readonly metricsCollectErrorsTotal: Counter<'collector'>;
  /** Records one answered HTTP request; `route` is the route template, never the raw URL. */
  observeHttpRequest(request: {
    method: string;
    route: string | undefined;
    statusCode: number;
    durationSeconds: number;
  }): void;
  /** The Prometheus text exposition (runs the Redis collectors); `detailed` adds the per-sweep
   * series. */
  scrape(detailed?: boolean): Promise<string>;
  /** Content-Type of `scrape()`'s text. */
  readonly contentType: string;
}

/** Counts and best objectives read from Redis once per scrape. */
interface SweepSnapshot {
  readonly sweepsByStatus: Map<SweepMetricStatus, number>;
  readonly trialsByStatus: Map<TrialStatus, number>;
  readonly bestObjective: BestObjectiveSample[];
}

/** One series of setrain_sweep_best_objective: `objective` only for multi-objective sweeps. */
interface BestObjectiveSample {
  readonly sweep: string;
  readonly objective?: string;
  readonly value: number;
}

function toSweepStatus(value: unknown): SweepMetricStatus {
  return typeof value === 'string' && (SWEEP_METRIC_STATUSES as readonly string[]).includes(value)
    ? (value as SweepMetricStatus)
    : 'unknown';
}

function toTrialStatus(value: unknown): TrialStatus | undefined {
  return typeof value === 'string' && (TRIAL_STATUSES as readonly string[]).includes(value)
    ? (value as TrialStatus)
    : undefined;
}

function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/**
 * A multi-objective sweep's `spec.objectives` (two or more metric/goal pairs), else undefined.
 * Per-trial metrics are read from a trial's `trialMetrics`, the epoch metric from `objectiveValue`.
 */
function objectivesOfState(sweepState: unknown): { metric: string; goal: Goal }[] | undefined {
  const list = field(field(sweepState, 'spec'), 'objectives');
  if (!Array.isArray(list) || list.length < 2) return undefined;
  return list.map((item: unknown) => ({
    metric: String(field(item, 'metric')),
    goal: field(item, 'goal') === 'maximize' ? 'maximize' : 'minimize',
  }));
}

/** A trial's value of one objective (a per-trial metric or the epoch metric), if finite. */
function trialObjectiveValue(trial: unknown, metric: string): number | undefined {
  const fromMetrics = field(field(trial, 'trialMetrics'), metric);
  const value = (TRIAL_METRIC_NAMES as readonly string[]).includes(metric)
    ? fromMetrics
    : field(trial, 'objectiveValue');
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The best value of each objective over a multi-objective sweep's trials (each a front trial's). */
function bestPerObjective(
  sweepId: string,
  objectives: readonly { metric: string; goal: Goal }[],
  trials: readonly unknown[],
): BestObjectiveSample[] {
  return objectives.flatMap(({ metric, goal }) => {
    let best: number | undefined;
    for (const trial of trials) {
      const value = trialObjectiveValue(trial, metric);
      if (value !== undefined && (best === undefined || isBetter(goal, value, best))) best = value;
    }
    return best === undefined ? [] : [{ sweep: sweepId, objective: metric, value: best }];
  });
}

/** The sweep's objective goal: `objective.goal` or `spec.objective.goal`; minimize by default
 * (the protocol's default objective is val_loss). */
function goalOf(sweepState: unknown): Goal {
  const goal =
    field(field(sweepState, 'objective'), 'goal') ??
    field(field(field(sweepState, 'spec'), 'objective'), 'goal');
  return goal === 'maximize' ? 'maximize' : 'minimize';
}

async function readSweepSnapshot(
  redis: MetricsRedis,
  keyPrefix: string,
  recentSweeps: number,
): Promise<SweepSnapshot> {
  const keys = redisKeys(keyPrefix);
  const sweepsByStatus = new Map<SweepMetricStatus, number>(
    SWEEP_METRIC_STATUSES.map((s) => [s, 0]),
  );
  const trialsByStatus = new Map<TrialStatus, number>(TRIAL_STATUSES.map((s) => [s, 0]));
  const bestObjective: BestObjectiveSample[] = [];
  // The unfinished sweeps and the most recent ones (the sorted set is scored by creation time):
  // never a scan of every sweep.
  const [active, recent] = await Promise.all([
    redis.smembers(keys.activeSweeps),
    recentSweeps > 0 ? redis.zrevrange(keys.sweeps, 0, recentSweeps - 1) : Promise.resolve([]),
  ]);
  const sweepIds = [...new Set([...recent, ...active])];
  if (sweepIds.length === 0) return { sweepsByStatus, trialsByStatus, bestObjective };
  const states = await redis.mget(...sweepIds.map((id) => keys.sweep(id)));
  // Issued together: ioredis pipelines concurrent commands on its one connection.
  const trialHashes = await Promise.all(sweepIds.map((id) => redis.hvals(keys.sweepTrials(id))));
  for (const [index, sweepId] of sweepIds.entries()) {
    const state = parseJson(states[index] ?? null);
    if (state === undefined) continue;
    const status = toSweepStatus(field(state, 'status'));
    sweepsByStatus.set(status, (sweepsByStatus.get(status) ?? 0) + 1);
    const parsedTrials = (trialHashes[index] ?? []).map(parseJson);
    const objectives = objectivesOfState(state);
    if (objectives !== undefined) {
      bestObjective.push(...bestPerObjective(sweepId, objectives, parsedTrials));
    }
    const goal = goalOf(state);
    // The controller's own record of the best trial, when it keeps one; trials fill the gaps.
    const recorded = field(field(state, 'best'), 'objectiveValue');
    let best: number | undefined =
      typeof recorded === 'number' && Number.isFinite(recorded) ? recorded : undefined;
    for (const trial of parsedTrials) {
      const trialStatus = toTrialStatus(field(trial, 'status'));
      if (trialStatus !== undefined)
        trialsByStatus.set(trialStatus, (trialsByStatus.get(trialStatus) ?? 0) + 1);
      const value = field(trial, 'objectiveValue');
      if (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (best === undefined || isBetter(goal, value, best))
      ) {
        best = value;
      }
    }
    if (best !== undefined && objectives === undefined) {
      bestObjective.push({ sweep: sweepId, value: best });
    }
  }
  return { sweepsByStatus, trialsByStatus, bestObjective };
}

/**
 * Builds the API's registry from the catalogue. Queue depth, sweeps and trials by status, the
 * best objective of recent sweeps and the registered workers are read from Redis at scrape time,
 * so every API replica reports the same numbers and nothing drifts between scrapes.
 */
export function createApiMetrics(deps: ApiMetricsDeps): ApiMetrics {
  const keyPrefix = deps.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const recentSweeps = deps.recentSweeps ?? DEFAULT_RECENT_SWEEPS;
  const registry = new Registry();
  const detailRegistry = new Registry();
  if (deps.defaultLabels !== undefined) {
    registry.setDefaultLabels({ ...deps.defaultLabels });
    detailRegistry.setDefaultLabels({ ...deps.defaultLabels });
  }
  if (deps.collectDefaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const metricsCollectErrorsTotal = new Counter(
    metricConfig('metricsCollectErrorsTotal', registry),
  );
  for (const collector of ['queues', 'sweeps', 'workers'])
    metricsCollectErrorsTotal.inc({ collector }, 0);

  let snapshot: { at: number; value: Promise<SweepSnapshot | undefined> } | undefined;
  const sweepSnapshot = (): Promise<SweepSnapshot | undefined> => {
    const now = Date.now();
    if (snapshot === undefined || now - snapshot.at > DEFAULT_SNAPSHOT_TTL_MS) {
      snapshot = {
        at: now,
        value: readSweepSnapshot(deps.redis, keyPrefix, recentSweeps).catch(() => {
          metricsCollectErrorsTotal.inc({ collector: 'sweeps' });
          return undefined;
        }),
      };
    }
    return snapshot.value;
  };

  const queueJobs = new Gauge({
    ...metricConfig('queueJobs', registry),
    async collect() {
      const results = await Promise.allSettled(
        deps.queues.map(async (queue) => ({
          queue: queue.name,
          counts: await queue.getJobCounts(...QUEUE_JOB_STATES),
        })),
      );
      for (const result of results) {
        if (result.status === 'rejected') {
          metricsCollectErrorsTotal.inc({ collector: 'queues' });
          continue;
        }
        for (const state of QUEUE_JOB_STATES) {
          this.set({ queue: result.value.queue, state }, result.value.counts[state] ?? 0);
        }
      }
    },
  });
  const sweeps = new Gauge({
    ...metricConfig('sweeps', registry),
    async collect() {
      const value = await sweepSnapshot();
      if (value === undefined) return;
      for (const [status, count] of value.sweepsByStatus) this.set({ status }, count);
    },
  });
  const trials = new Gauge({
    ...metricConfig('trials', registry),
    async collect() {
      const value = await sweepSnapshot();
      if (value === undefined) return;
      for (const [status, count] of value.trialsByStatus) this.set({ status }, count);
    },
  });
  const sweepBestObjective = new Gauge({
    ...metricConfig('sweepBestObjective', detailRegistry),
    async collect() {
      const value = await sweepSnapshot();
      if (value === undefined) return;
      // Reset first: sweeps that left the bounded set must lose their series.
      this.reset();
      for (const { sweep, objective, value: best } of value.bestObjective) {
        this.set(objective === undefined ? { sweep } : { sweep, objective }, best);
      }
    },
  });
  const workersRegistered = new Gauge({
    ...metricConfig('workersRegistered', registry),
    async collect() {
      try {
        this.set(await deps.redis.hlen(redisKeys(keyPrefix).workers));
      } catch {
        metricsCollectErrorsTotal.inc({ collector: 'workers' });
      }
    },
  });
  const httpRequestDurationSeconds = new Histogram(
    metricConfig('httpRequestDurationSeconds', registry),
  );
  const httpRequestsTotal = new Counter(metricConfig('httpRequestsTotal', registry));

  return {
    registry,
    detailRegistry,
    httpRequestDurationSeconds,
    httpRequestsTotal,
    queueJobs,
    sweeps,
    trials,
    sweepBestObjective,
    workersRegistered,
    metricsCollectErrorsTotal,
    observeHttpRequest({ method, route, statusCode, durationSeconds }) {
      const labels = {
        method,
        route: route ?? HTTP_UNMATCHED_ROUTE,
        status_code: String(statusCode),
      };
      httpRequestDurationSeconds.observe(labels, durationSeconds);
      httpRequestsTotal.inc(labels);
    },
    scrape: async (detailed = false) =>
      detailed
        ? `${await registry.metrics()}${await detailRegistry.metrics()}`
        : registry.metrics(),
    contentType: registry.contentType,
  };
}

/**
 * Adds an onResponse hook that records every request's duration and count by method, route
 * template (`/v1/sweeps/:id`, not the URL) and status code. Call it before routes are added
 * so that hooks apply to all of them (Fastify hooks apply to routes registered after them in
 * the same encapsulation context).
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    metrics.observeHttpRequest({
      method: request.method,
      // routeOptions.url is undefined when no route matched: one `unmatched` series for all 404s.
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
    });
    done();
  });
}

/**
 * Adds `GET /metrics` (Prometheus text format), hidden from the OpenAPI document. Without an
 * Authorization header it answers the aggregates (no sweep ids); with `Bearer <token>` equal to
 * `token` (SETRAIN_METRICS_TOKEN, compared in constant time) it adds the per-sweep series; any
 * other Authorization header answers 401 UNAUTHORIZED, so a misconfigured scraper notices.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: ApiMetrics,
  token?: string,
  path: string = METRICS_PATH,
): void {
  const verifier =
    token === undefined
      ? undefined
      : new ApiKeyVerifier([{ name: 'metrics', key: token, scopes: ['read'] }]);
  // `hide` comes from @fastify/swagger's schema extension; FastifySchema itself does not know it.
  const schema = { hide: true } as FastifySchema;
  app.get(path, { schema }, async (request, reply) => {
    const header = request.headers.authorization;
    const detailed = header !== undefined;
    if (detailed && verifier?.verify(header) === undefined) throw new ApiError('UNAUTHORIZED');
    const text = await metrics.scrape(detailed);
    return reply.header('content-type', metrics.contentType).send(text);
  });
}
