// The queue's overhead per trial: a setrain sweep whose trainer does nothing (the benchmark-only
// launcher in scripts/bench/benchmark-only-noop-trainer.ts) against raw BullMQ doing the same
// nothing, on the same redis-server, in the same run.
//
//   npm run bench:queue -- [--trials 1000] [--workers 4] [--timeout-s 300] [--only setrain|baseline]
//                          [--trace-commands]
//
// --only runs one side (to profile it: node --cpu-prof --conditions=source --import tsx
// scripts/bench-queue.ts --only setrain); the ratios are then left out. --trace-commands records
// each side's commands with MONITOR and reports them per trial by the role of the connection that
// sent them (scripts/bench/redis-command-trace.ts); MONITOR slows Redis, so that run's timings are
// not comparable with an untraced run's.
//
// setrain: the API (buildApp, its sweep controller) takes a random-search sweep of --trials trials
// with parallelism = --workers; --workers in-process workers (startWorker) run them. Baseline: raw
// BullMQ Workers (concurrency 1, as setrain's) and a producer that keeps --workers jobs queued or
// running, adding the next when one completes (what the controller does). Both read BullMQ's own
// job timestamps: submit->start latency = processedOn - timestamp (p50/p99), end->next-start gap =
// per worker, next processedOn - previous finishedOn (p50/p99), trials/s = trials / (last finish -
// first submit). Prints one JSON object.
import { parseArgs } from 'node:util';

import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';

import { startRedis, startS3, type RedisServer, type S3Server } from '../test/harness/index.js';
import { startNoopStack } from './bench/noop-stack.js';
import { intOption } from './bench/options.js';
import { commandCounts, commandsPerTrial } from './bench/redis-command-stats.js';
import { RedisCommandTrace, type RoleCommands } from './bench/redis-command-trace.js';
import { percentile, round } from './bench/stats.js';

interface Options {
  trials: number;
  workers: number;
  timeoutMs: number;
  /** Run only this side (profiling); undefined: both. */
  only: 'setrain' | 'baseline' | undefined;
  /** Record each side's commands by connection role (MONITOR). */
  traceCommands: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      trials: { type: 'string' },
      workers: { type: 'string' },
      'timeout-s': { type: 'string' },
      only: { type: 'string' },
      'trace-commands': { type: 'boolean' },
    },
    strict: true,
  });
  const { only } = values;
  if (only !== undefined && only !== 'setrain' && only !== 'baseline') {
    throw new Error(`--only must be setrain or baseline, not ${only}`);
  }
  return {
    only,
    traceCommands: values['trace-commands'] === true,
    trials: intOption('trials', values.trials, 1000, 1, 10_000),
    workers: intOption('workers', values.workers, 4, 1, 64),
    timeoutMs: intOption('timeout-s', values['timeout-s'], 300, 1, 3600) * 1000,
  };
}

/** What a run's jobs say about the queue. */
interface QueueStats {
  trials: number;
  trialsPerSec: number;
  latencyMsP50: number;
  latencyMsP99: number;
  gapMsP50: number;
  gapMsP99: number;
  /** CPU ms per trial of this process (the API, the workers, the producer) during the run. */
  nodeCpuMsPerTrial?: number;
  /** CPU ms per trial of redis-server during the run. */
  redisCpuMsPerTrial?: number;
  /** Redis commands per trial during the run, by command (INFO commandstats; Lua's count too). */
  redisCommandsPerTrial?: Record<string, number>;
  /** With --trace-commands: commands per trial by the role of the connection that sent them. */
  commandsByConnectionRole?: Record<string, RoleCommands>;
}

/** `workerOf` names the worker that ran a job (gaps are measured per worker). */
function statsOf(jobs: readonly Job[], workerOf: (job: Job) => string | undefined): QueueStats {
  const timed = jobs.filter((j) => j.processedOn !== undefined && j.finishedOn !== undefined);
  const latencies = timed.map((j) => (j.processedOn ?? 0) - j.timestamp);
  const byWorker = new Map<string, Job[]>();
  for (const job of timed) {
    const worker = workerOf(job) ?? 'unknown';
    byWorker.set(worker, [...(byWorker.get(worker) ?? []), job]);
  }
  const gaps: number[] = [];
  for (const list of byWorker.values()) {
    list.sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
    for (let i = 1; i < list.length; i++) {
      gaps.push((list[i]?.processedOn ?? 0) - (list[i - 1]?.finishedOn ?? 0));
    }
  }
  const first = Math.min(...timed.map((j) => j.timestamp));
  const last = Math.max(...timed.map((j) => j.finishedOn ?? 0));
  return {
    trials: timed.length,
    trialsPerSec: round(timed.length / ((last - first) / 1000), 1),
    latencyMsP50: percentile(latencies, 50),
    latencyMsP99: percentile(latencies, 99),
    gapMsP50: percentile(gaps, 50),
    gapMsP99: percentile(gaps, 99),
  };
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  done: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Raw BullMQ: noop workers and a producer keeping `workers` jobs outstanding. */
async function runBaseline(
  redis: RedisServer,
  o: Options,
  finished: () => void,
): Promise<QueueStats> {
  const prefix = '{bench-raw}';
  const name = 'bench-raw';
  const connections = Array.from(
    { length: o.workers + 2 },
    () => new Redis(redis.url, { maxRetriesPerRequest: null }),
  );
  const connection = (i: number): Redis => connections[i] as Redis;
  const queue = new Queue(name, { connection: connection(0), prefix });
  const events = new QueueEvents(name, { connection: connection(1), prefix });
  await events.waitUntilReady();
  const workers = Array.from(
    { length: o.workers },
    (_, i) =>
      new Worker(name, () => Promise.resolve({}), {
        connection: connection(i + 2),
        prefix,
        concurrency: 1,
        name: `raw-${i}`,
      }),
  );
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    let added = 0;
    let completed = 0;
    const add = async (): Promise<void> => {
      if (added >= o.trials) return;
      added += 1;
      await queue.add('trial', { n: added }, { jobId: `raw-${added}` });
    };
    events.on('completed', () => {
      completed += 1;
      void add();
    });
    for (let i = 0; i < o.workers; i++) await add();
    await waitUntil('the raw BullMQ jobs', o.timeoutMs, () =>
      Promise.resolve(completed >= o.trials),
    );
    finished();
    return statsOf(await queue.getJobs(['completed'], 0, -1), (job) => job.processedBy);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    for (const c of connections) c.disconnect();
  }
}

/** setrain: the API's controller and `workers` workers running the benchmark-only trainer. */
async function runSetrain(
  redis: RedisServer,
  s3: S3Server,
  o: Options,
  finished: () => void,
): Promise<QueueStats> {
  const stack = await startNoopStack(redis, s3, o.workers);
  try {
    const sweepId = await stack.submitSweep(o.trials, o.workers);
    await stack.waitForSweep(sweepId, o.timeoutMs);
    finished();
    const jobs = await stack.queue.getJobs(['completed'], 0, -1);
    return statsOf(jobs, (job) => stack.workerOfTrial.get(job.id ?? ''));
  } finally {
    await stack.close();
  }
}

/**
 * `run`'s stats with its CPU time and Redis commands per trial (setup and teardown included). `run`
 * calls `finished` once its trials are done, before it reads their jobs back for the stats: the
 * command trace (--trace-commands) stops there, so the benchmark's own reads are not in it.
 */
async function withCosts(
  redis: RedisServer,
  o: Options,
  run: (finished: () => void) => Promise<QueueStats>,
): Promise<QueueStats> {
  const trace = o.traceCommands ? await RedisCommandTrace.start(redis.url) : undefined;
  let commandsByConnectionRole: Record<string, RoleCommands> | undefined;
  const before = await commandCounts(redis.url);
  const cpu = process.cpuUsage();
  const stats = await run(() => {
    commandsByConnectionRole = trace?.stop(o.trials);
  });
  const used = process.cpuUsage(cpu);
  const after = await commandCounts(redis.url);
  return {
    ...stats,
    ...(commandsByConnectionRole === undefined ? {} : { commandsByConnectionRole }),
    nodeCpuMsPerTrial: round((used.user + used.system) / 1000 / o.trials, 2),
    redisCpuMsPerTrial: round(((after.cpuS - before.cpuS) * 1000) / o.trials, 2),
    redisCommandsPerTrial: commandsPerTrial(before.counts, after.counts, o.trials),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const [redis, s3] = await Promise.all([startRedis(), startS3()]);
  try {
    const baseline =
      o.only === 'setrain'
        ? undefined
        : await withCosts(redis, o, (finished) => runBaseline(redis, o, finished));
    const setrain =
      o.only === 'baseline'
        ? undefined
        : await withCosts(redis, o, (finished) => runSetrain(redis, s3, o, finished));
    const ratios =
      baseline === undefined || setrain === undefined
        ? {}
        : {
            latencyP50VsBaseline: round(
              setrain.latencyMsP50 / Math.max(1, baseline.latencyMsP50),
              2,
            ),
            throughputVsBaseline: round(setrain.trialsPerSec / baseline.trialsPerSec, 2),
          };
    console.log(
      JSON.stringify(
        {
          benchmark: 'queue',
          trials: o.trials,
          workers: o.workers,
          statistic: 'p50/p99 over trials (nearest rank), trials/s over the whole run',
          ...(o.traceCommands
            ? { traced: 'MONITOR was on: compare commands, not timings, with an untraced run' }
            : {}),
          baseline,
          setrain,
          ...ratios,
          goals: { latencyP50VsBaselineMax: 1.2, throughputVsBaselineMin: 0.8 },
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.all([redis.stop(), s3.stop()]);
  }
}

await main();
