// The API under load, against a Fastify hello-world in the same process and run.
//
//   npm run bench:api -- [--connections 200] [--duration-s 10] [--trials 1000] [--workers 4]
//
// A real API (buildApp, its controller, in-process workers running the benchmark-only noop
// trainer on a redis-server) listens on 127.0.0.1 and runs a sweep of --trials trials to the end.
// autocannon then reads, for --duration-s each, with --connections concurrent clients:
// - a Fastify hello-world (GET / answering {"hello":"world"}): the baseline;
// - status reads: GET /v1/trials/:id (a trial's state from Redis), with the API key;
// - GET /v1/sweeps/:id of the --trials-trial sweep, one client (one read's latency is the goal).
// Prints one JSON object: requests/s (mean over the run, autocannon's) and latency p50/p99 (ms).
import { parseArgs } from 'node:util';

import autocannon from 'autocannon';
import Fastify from 'fastify';

import { startRedis, startS3 } from '../test/harness/index.js';
import { BENCH_API_KEY, startNoopStack } from './bench/noop-stack.js';
import { intOption } from './bench/options.js';
import { round } from './bench/stats.js';

interface Options {
  connections: number;
  durationS: number;
  trials: number;
  workers: number;
}

/** One client reads the 1,000-trial sweep: the goal is one read's latency, not saturation. */
const SWEEP_READ_CONNECTIONS = 1;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' },
      'duration-s': { type: 'string' },
      trials: { type: 'string' },
      workers: { type: 'string' },
    },
    strict: true,
  });
  return {
    connections: intOption('connections', values.connections, 200, 1, 1000),
    durationS: intOption('duration-s', values['duration-s'], 10, 1, 120),
    trials: intOption('trials', values.trials, 1000, 1, 10_000),
    workers: intOption('workers', values.workers, 4, 1, 64),
  };
}

interface LoadResult {
  requestsPerSec: number;
  latencyMsP50: number;
  latencyMsP99: number;
  non2xx: number;
  errors: number;
}

async function load(
  url: string,
  connections: number,
  durationS: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const result = await autocannon({ url, connections, duration: durationS, headers });
  return {
    requestsPerSec: round(result.requests.average, 1),
    latencyMsP50: result.latency.p50,
    latencyMsP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const [redis, s3] = await Promise.all([startRedis(), startS3()]);
  const hello = Fastify();
  hello.get('/', () => ({ hello: 'world' }));
  const stack = await startNoopStack(redis, s3, o.workers);
  try {
    const sweepId = await stack.submitSweep(o.trials, Math.min(256, o.workers * 4));
    await stack.waitForSweep(sweepId, 600_000);
    const helloUrl = await hello.listen({ host: '127.0.0.1', port: 0 });
    const apiUrl = await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const auth = { authorization: `Bearer ${BENCH_API_KEY}` };
    const baseline = await load(helloUrl, o.connections, o.durationS);
    const statusReads = await load(
      `${apiUrl}/v1/trials/${sweepId}.1`,
      o.connections,
      o.durationS,
      auth,
    );
    const sweepReads = await load(
      `${apiUrl}/v1/sweeps/${sweepId}`,
      SWEEP_READ_CONNECTIONS,
      o.durationS,
      auth,
    );
    console.log(
      JSON.stringify(
        {
          benchmark: 'api',
          connections: o.connections,
          durationS: o.durationS,
          statistic: 'requests/s: autocannon mean per second; latency: p50/p99 ms',
          baselineHelloWorld: baseline,
          statusReads,
          statusReadsVsBaseline: round(statusReads.requestsPerSec / baseline.requestsPerSec, 2),
          sweepWithTrials: o.trials,
          sweepReadConnections: SWEEP_READ_CONNECTIONS,
          sweepReads,
          goals: { statusReadsVsBaselineMin: 0.5, sweepReadLatencyMsMax: 50 },
        },
        null,
        2,
      ),
    );
  } finally {
    await stack.close();
    await hello.close();
    await Promise.all([redis.stop(), s3.stop()]);
  }
}

await main();
