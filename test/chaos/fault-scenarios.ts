/**
 * Scenarios that kill or cut off a process mid-sweep: workers (SIGKILL, repeated; SIGTERM), Redis
 * (SIGKILL and AOF restart; the primary under Sentinel), S3 (15 s mid-trial and mid-checkpoint,
 * 3 minutes at parallelism 4), the API (SIGKILL and restart; one of two replicas). Each expects
 * the sweep to complete with no failed trial.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { waitFor } from '../harness/index.js';
import { killProcess, waitExit } from './chaos-stack.js';
import {
  chaosSpec,
  pickWorker,
  randomInt,
  SWEEP_END_TIMEOUT_MS,
  waitCheckpointInFlight,
  waitRunningTrial,
  workerOf,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutcome,
} from './scenario.js';
import { createSweep, timeToRecover } from './sweep-client.js';

const S3_SHORT_OUTAGE_MS = 15_000;
const S3_LONG_OUTAGE_MS = 180_000;

async function startSweep(ctx: ScenarioContext, name: string, shape = {}): Promise<string> {
  return (await createSweep(ctx.stack, chaosSpec(ctx, name, shape))).id;
}

function completes(
  sweepId: string,
  maxTrials: number,
  recoveryMs: number,
  endTimeoutMs = SWEEP_END_TIMEOUT_MS,
): ScenarioOutcome {
  return { sweepId, maxTrials, recoveryMs, expect: { status: 'completed', endTimeoutMs } };
}

/** Stops S3 (SIGKILL: connections refused) for `ms`, then restarts it on its port and data. */
async function s3Outage(ctx: ScenarioContext, ms: number): Promise<void> {
  ctx.log(`s3 down for ${ms / 1000}s`);
  await ctx.stack.s3.service.kill();
  await sleep(ms);
  await ctx.stack.s3.service.start();
  ctx.log('s3 back');
}

export const FAULT_SCENARIOS: Scenario[] = [
  {
    name: 'worker-sigkill',
    description: 'SIGKILL a (seeded) random busy worker at random moments, three times',
    short: true,
    async run(ctx) {
      const sweepId = await startSweep(ctx, 'worker-sigkill', { maxTrials: 3, epochs: 2 });
      await waitRunningTrial(ctx, sweepId, 0);
      for (let kill = 1; kill <= 3; kill++) {
        await sleep(randomInt(ctx, 2_000, 12_000));
        const victim = await pickWorker(ctx);
        ctx.log(`kill ${kill}: SIGKILL ${victim.id}`);
        killProcess(victim.process);
        await waitExit(victim.process);
        await ctx.stack.startWorker();
      }
      return completes(sweepId, 3, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 'worker-sigterm',
    description: 'SIGTERM the worker of a trial mid-training; it gives the trial back and exits',
    async run(ctx) {
      const sweepId = await startSweep(ctx, 'worker-sigterm', { epochs: 3 });
      const trial = await waitRunningTrial(ctx, sweepId, 1);
      const victim = await workerOf(ctx.stack, trial.trialId);
      ctx.log(`SIGTERM ${victim.id} (trial ${trial.trialNumber})`);
      killProcess(victim.process, 'SIGTERM');
      await waitExit(victim.process, 60_000);
      await ctx.stack.startWorker();
      return completes(sweepId, 2, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 'redis-sigkill-aof',
    description: 'SIGKILL redis-server mid-trial; restart it on its AOF after 3 s',
    async run(ctx) {
      const sweepId = await startSweep(ctx, 'redis-sigkill', { epochs: 3 });
      await waitRunningTrial(ctx, sweepId, 1);
      const redis = ctx.stack.redis;
      if (redis === undefined) throw new Error('no single redis-server in this stack');
      ctx.log('SIGKILL redis');
      await redis.kill();
      await sleep(3_000);
      await redis.start();
      return completes(sweepId, 2, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 's3-outage-15s',
    description: 'S3 unreachable for 15 s mid-trial',
    short: true,
    async run(ctx) {
      const sweepId = await startSweep(ctx, 's3-15s', { epochs: 3 });
      await waitRunningTrial(ctx, sweepId, 1);
      await s3Outage(ctx, S3_SHORT_OUTAGE_MS);
      return completes(sweepId, 2, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 's3-outage-15s-checkpoint',
    description: 'S3 unreachable for 15 s while a checkpoint is being written',
    async run(ctx) {
      const sweepId = await startSweep(ctx, 's3-15s-checkpoint', { epochs: 3 });
      const dir = await waitCheckpointInFlight(ctx, sweepId);
      ctx.log(`checkpoint in flight: ${dir}`);
      await s3Outage(ctx, S3_SHORT_OUTAGE_MS);
      return completes(sweepId, 2, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 's3-outage-3min',
    description: 'S3 unreachable for 3 minutes with parallelism 4: nothing fails',
    async run(ctx) {
      const sweepId = await startSweep(ctx, 's3-3min', {
        maxTrials: 4,
        parallelism: 4,
        epochs: 2,
      });
      await waitRunningTrial(ctx, sweepId, 0);
      await s3Outage(ctx, S3_LONG_OUTAGE_MS);
      return completes(
        sweepId,
        4,
        await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS),
        SWEEP_END_TIMEOUT_MS + S3_LONG_OUTAGE_MS,
      );
    },
  },
  {
    name: 'api-sigkill',
    description: 'SIGKILL the API mid-sweep; restart it after 2 s',
    async run(ctx) {
      const sweepId = await startSweep(ctx, 'api-sigkill', { maxTrials: 3, epochs: 2 });
      await waitRunningTrial(ctx, sweepId, 1);
      const api = ctx.stack.apis[0];
      if (api === undefined) throw new Error('no API');
      ctx.log('SIGKILL api-1');
      killProcess(api);
      await waitExit(api);
      await sleep(2_000);
      await ctx.stack.startApi(0);
      return completes(sweepId, 3, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 'api-replica-killed',
    description: 'two API replicas; SIGKILL one mid-sweep, the other finishes the sweep',
    stack: { apis: 2 },
    async run(ctx) {
      const sweepId = await startSweep(ctx, 'api-replica', { maxTrials: 3, epochs: 2 });
      await waitRunningTrial(ctx, sweepId, 1);
      const api = ctx.stack.apis[0];
      if (api === undefined) throw new Error('no API');
      ctx.log('SIGKILL api-1 (not restarted)');
      killProcess(api);
      await waitExit(api);
      return completes(sweepId, 3, await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS));
    },
  },
  {
    name: 'sentinel-failover',
    description:
      'Redis under Sentinel: SIGKILL the primary; the sweep finishes on the promoted replica',
    stack: { sentinel: true },
    async run(ctx) {
      const topology = ctx.stack.sentinel;
      if (topology === undefined) throw new Error('no Sentinel topology');
      const sweepId = await startSweep(ctx, 'sentinel', { epochs: 3 });
      await waitRunningTrial(ctx, sweepId, 1);
      ctx.log('SIGKILL the Redis primary');
      await topology.primary.kill();
      await waitFor(
        async () => (await topology.masterPort().catch(() => undefined)) === topology.replica.port,
        { what: 'the sentinels to promote the replica', timeoutMs: 60_000, intervalMs: 250 },
      );
      ctx.log('replica promoted');
      const recoveryMs = await timeToRecover(ctx.stack, sweepId, SWEEP_END_TIMEOUT_MS);
      return {
        ...completes(sweepId, 2, recoveryMs),
        extraChecks: async () =>
          (await topology.masterPort()) === topology.replica.port
            ? []
            : ['the sentinels no longer name the promoted replica as master'],
      };
    },
  },
];
