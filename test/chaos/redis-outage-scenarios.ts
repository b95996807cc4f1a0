/**
 * Scenarios where Redis is away longer than a job's BullMQ lock (6 s in the chaos stack): a
 * worker SIGTERMed while Redis is down must exit within SETRAIN_SHUTDOWN_TIMEOUT_SECONDS with no
 * trainer left behind, and a worker whose lock expires during an outage must stop its trainer
 * before Redis answers again (so no trial trains on two workers) and not use up the trial's stall
 * allowance (two outages with SETRAIN_MAX_STALLED_COUNT=1 still complete).
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { redisKeys } from '@setrain/protocol';

import { waitFor } from '../harness/index.js';
import { killProcess, waitExit, type ChaosStack } from './chaos-stack.js';
import {
  chaosSpec,
  SWEEP_END_TIMEOUT_MS,
  waitRunningTrial,
  workerOf,
  type Scenario,
  type ScenarioContext,
} from './scenario.js';
import { createSweep, timeToRecover, waitSweep } from './sweep-client.js';

/** Longer than the chaos workers' 6 s lock, so every held job's lock expires. */
const OUTAGE_MS = 12_000;
const SHUTDOWN_TIMEOUT_SECONDS = 8;
/** What a SIGTERMed worker may take beyond its shutdown timeout (process exit, loaded cores). */
const EXIT_SLACK_MS = 5_000;
const LOCK_LOST_LINE = 'job lock lost; the trainer was stopped';

function singleRedis(stack: ChaosStack): NonNullable<ChaosStack['redis']> {
  if (stack.redis === undefined) throw new Error('no single redis-server in this stack');
  return stack.redis;
}

/** The worker's processes still in its process group (`pid args`), e.g. an orphaned trainer. */
function groupMembers(pgid: number): string[] {
  const ps = spawnSync('ps', ['-o', 'pid=,pgid=,args=', '-e'], { encoding: 'utf8' });
  return (
    ps.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, group]) => group === String(pgid))
      // The harness's watchdog shell is not the worker's.
      .filter(([, , ...args]) => !args.join(' ').startsWith('/bin/sh -c delay='))
      .map(([pid, , ...args]) => `${pid ?? '?'} ${args.join(' ').slice(0, 160)}`)
  );
}

/** Epoch ms of each pino line of `output` whose msg is `msg`. */
function logTimes(output: string, msg: string): number[] {
  const times: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const parsed = JSON.parse(line) as { msg?: string; time?: string };
      const time = Date.parse(parsed.time ?? '');
      if (parsed.msg === msg && Number.isFinite(time)) times.push(time);
    } catch {
      // not a log line
    }
  }
  return times;
}

/**
 * The workers of the sweep's open attempts started after `since` (epoch ms): a worker writes its
 * attempt when it takes the job, so each holds that job's lock.
 */
async function holdersSince(stack: ChaosStack, sweepId: string, since: number): Promise<string[]> {
  const redis = stack.redisClient();
  try {
    const holders: string[] = [];
    const key = redisKeys(stack.keyPrefix).sweepTrials(sweepId);
    for (const raw of Object.values(await redis.hgetall(key))) {
      const state = JSON.parse(raw) as {
        attemptsLog?: { workerId?: string; startedAt?: string; endedAt?: string }[];
      };
      const last = state.attemptsLog?.at(-1);
      const fresh = Date.parse(last?.startedAt ?? '') > since && last?.endedAt === undefined;
      if (fresh && last?.workerId !== undefined) holders.push(last.workerId);
    }
    return holders;
  } finally {
    redis.disconnect();
  }
}

/** Redis SIGKILLed, down for OUTAGE_MS, restarted on its AOF; returns [down, back] epoch ms. */
async function redisOutage(ctx: ScenarioContext): Promise<[number, number]> {
  const redis = singleRedis(ctx.stack);
  ctx.log(`redis down for ${OUTAGE_MS / 1000}s`);
  const down = Date.now();
  await redis.kill();
  await sleep(OUTAGE_MS);
  const back = Date.now();
  await redis.start();
  ctx.log('redis back');
  return [down, back];
}

export const REDIS_OUTAGE_SCENARIOS: Scenario[] = [
  {
    name: 'worker-sigterm-redis-down',
    description: `SIGTERM a busy worker while Redis is down: it exits within its ${SHUTDOWN_TIMEOUT_SECONDS} s shutdown timeout, trainer included`,
    stack: { workerEnv: { SETRAIN_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS) } },
    async run(ctx) {
      const sweepId = (
        await createSweep(ctx.stack, chaosSpec(ctx, 'sigterm-redis-down', { epochs: 3 }))
      ).id;
      const trial = await waitRunningTrial(ctx, sweepId, 1);
      const victim = await workerOf(ctx.stack, trial.trialId);
      const redis = singleRedis(ctx.stack);
      ctx.log(`redis down; SIGTERM ${victim.id} (trial ${trial.trialNumber})`);
      await redis.kill();
      const termAt = Date.now();
      killProcess(victim.process, 'SIGTERM');
      await waitExit(victim.process, (SHUTDOWN_TIMEOUT_SECONDS + 30) * 1000);
      const exitMs = Date.now() - termAt;
      // A process of its group still there 5 s after it exited was left behind.
      await sleep(5_000);
      const orphans = groupMembers(victim.process.pid);
      const exit = victim.process.exit();
      ctx.log(`${victim.id} exited after ${exitMs} ms (code ${exit?.code ?? 'none'})`);
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - termAt)));
      await redis.start();
      ctx.log('redis back');
      await ctx.stack.startWorker();
      return {
        sweepId,
        maxTrials: 2,
        recoveryMs: await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS),
        expect: { status: 'completed', endTimeoutMs: SWEEP_END_TIMEOUT_MS },
        extraChecks: () => {
          const problems: string[] = [];
          const limitMs = SHUTDOWN_TIMEOUT_SECONDS * 1000 + EXIT_SLACK_MS;
          if (exitMs > limitMs) {
            problems.push(
              `${victim.id} took ${exitMs} ms to exit after SIGTERM (limit ${limitMs})`,
            );
          }
          if (orphans.length > 0) {
            problems.push(`processes of ${victim.id}'s group outlived it: ${orphans.join('; ')}`);
          }
          return Promise.resolve(problems);
        },
      };
    },
  },
  {
    name: 'redis-outage-past-lock',
    description:
      'Redis down 12 s (past the 6 s job lock), twice, with SETRAIN_MAX_STALLED_COUNT=1: trainers stop before Redis returns, trials resume, none fails',
    stack: { workerEnv: { SETRAIN_MAX_STALLED_COUNT: '1' } },
    async run(ctx) {
      const sweepId = (
        await createSweep(ctx.stack, chaosSpec(ctx, 'outage-past-lock', { epochs: 3 }))
      ).id;
      const problems: string[] = [];
      let since = 0;
      for (let outage = 1; outage <= 2; outage++) {
        await waitSweep(
          ctx.stack,
          sweepId,
          'both trials running',
          (s) => s.trials.filter((t) => t.status === 'running').length === 2,
          SWEEP_END_TIMEOUT_MS,
        );
        // After an outage the trial states still say running (and the heartbeats still name the
        // trials) until the stall check moves the jobs: wait for two attempts started since.
        const holders = await waitFor(
          async () => {
            const fresh = await holdersSince(ctx.stack, sweepId, since);
            return fresh.length === 2 ? fresh : undefined;
          },
          { what: 'two workers holding a trial', timeoutMs: SWEEP_END_TIMEOUT_MS, intervalMs: 250 },
        );
        ctx.log(`outage ${outage}: trials held by ${holders.join(', ')}`);
        const [down, back] = await redisOutage(ctx);
        since = back;
        // Read now: the output keeps only its last 16 KiB.
        for (const id of holders) {
          const worker = ctx.stack.workers.find((w) => w.id === id);
          const times = logTimes(worker?.process.output() ?? '', LOCK_LOST_LINE);
          if (!times.some((t) => t > down && t < back)) {
            problems.push(
              `outage ${outage}: ${id} did not stop its trainer before Redis came back (no "${LOCK_LOST_LINE}" between ${new Date(down).toISOString()} and ${new Date(back).toISOString()})`,
            );
          }
        }
      }
      return {
        sweepId,
        maxTrials: 2,
        recoveryMs: await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS),
        expect: { status: 'completed', endTimeoutMs: SWEEP_END_TIMEOUT_MS },
        extraChecks: () => Promise.resolve(problems),
      };
    },
  },
];
