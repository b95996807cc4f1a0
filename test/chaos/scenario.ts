/**
 * What a chaos scenario is, and the helpers scenarios share: the small sweep they run, waiting for
 * a phase of a trial, finding the worker that trains a trial, watching S3's directory for a
 * checkpoint being written.
 */
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { redisKeys } from '@setrain/protocol';
import type { Prng } from '@setrain/sweep';

import type { UploadedShapesDataset } from '../fixtures/shapes-dataset.js';
import { waitFor } from '../harness/index.js';
import type { ChaosStack, ChaosStackOptions, ChaosWorker } from './chaos-stack.js';
import type { Expectations } from './invariants.js';
import { waitSweep, type ChaosSweep, type ChaosTrial } from './sweep-client.js';

export interface ScenarioContext {
  readonly stack: ChaosStack;
  readonly rng: Prng;
  readonly seed: number;
  readonly dataset: UploadedShapesDataset;
  log(message: string): void;
}

/** What a scenario hands the runner once its faults are done. */
export interface ScenarioOutcome {
  readonly sweepId: string;
  readonly maxTrials: number;
  readonly expect: Expectations;
  /** From the end of the last fault to the next progress of the sweep. */
  readonly recoveryMs?: number;
  /** Checks of this scenario beyond the common invariants (run after them). */
  readonly extraChecks?: (sweep: ChaosSweep) => Promise<string[]>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly stack?: ChaosStackOptions;
  /** A short scenario for `npm test`'s chaos variant. */
  readonly short?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

/** Long enough for 2-3 epochs of two trials on 2 shared cores, process restarts included. */
export const SWEEP_END_TIMEOUT_MS = 420_000;
const LEARNING_RATES = [0.001, 0.002, 0.003, 0.0015, 0.0025, 0.004];

export interface SweepShape {
  maxTrials?: number;
  parallelism?: number;
  epochs?: number;
  dataset?: string;
  maxFailedTrials?: number;
}

/** A small sweep: 75x75, a few images, grid over `maxTrials` learning rates, seeded. */
export function chaosSpec(ctx: ScenarioContext, name: string, shape: SweepShape = {}): unknown {
  const maxTrials = shape.maxTrials ?? 2;
  return {
    name: `chaos ${name}`,
    dataset: shape.dataset ?? ctx.dataset.manifestUri,
    model: { inputSize: 75, seRatio: 16, dropout: 0 },
    training: {
      epochs: shape.epochs ?? 2,
      batchSize: 4,
      optimizer: 'adam',
      validationSplit: 0.25,
      augmentation: { flip: false, crop: false },
      seed: ctx.seed,
    },
    search: { strategy: 'grid', parameters: { learningRate: LEARNING_RATES.slice(0, maxTrials) } },
    objective: { metric: 'loss', goal: 'minimize' },
    maxTrials,
    parallelism: shape.parallelism ?? 2,
    ...(shape.maxFailedTrials !== undefined ? { maxFailedTrials: shape.maxFailedTrials } : {}),
  };
}

/** Waits for a running trial that has finished at least `epochs` epochs. */
export async function waitRunningTrial(
  ctx: ScenarioContext,
  sweepId: string,
  epochs: number,
  intervalMs = 250,
): Promise<ChaosTrial> {
  const sweep = await waitSweep(
    ctx.stack,
    sweepId,
    `a running trial with ${epochs} epoch(s)`,
    (s) => s.trials.some((t) => t.status === 'running' && t.epochsCompleted >= epochs),
    SWEEP_END_TIMEOUT_MS,
    intervalMs,
  );
  const trial = sweep.trials.find((t) => t.status === 'running' && t.epochsCompleted >= epochs);
  if (trial === undefined) throw new Error('no running trial');
  return trial;
}

/** Worker ids and the trial each heartbeat names (heartbeats refresh every 10 s). */
export async function busyWorkers(stack: ChaosStack): Promise<Map<string, string>> {
  const redis = stack.redisClient();
  try {
    const busy = new Map<string, string>();
    for (const [id, value] of Object.entries(
      await redis.hgetall(redisKeys(stack.keyPrefix).workers),
    )) {
      const trialId = (JSON.parse(value) as { trialId?: string }).trialId;
      if (trialId !== undefined) busy.set(id, trialId);
    }
    return busy;
  } finally {
    redis.disconnect();
  }
}

/** The live worker whose heartbeat names `trialId` (waits up to two heartbeat periods). */
export async function workerOf(stack: ChaosStack, trialId: string): Promise<ChaosWorker> {
  return waitFor(
    async () => {
      for (const [id, trial] of await busyWorkers(stack)) {
        const worker = stack.liveWorkers().find((w) => w.id === id);
        if (trial === trialId && worker !== undefined) return worker;
      }
      return undefined;
    },
    { what: `the worker training ${trialId}`, timeoutMs: 25_000, intervalMs: 200 },
  );
}

/** A live worker chosen by the scenario's PRNG, preferring one that trains a trial. */
export async function pickWorker(ctx: ScenarioContext): Promise<ChaosWorker> {
  const busy = new Set((await busyWorkers(ctx.stack)).keys());
  const live = ctx.stack.liveWorkers();
  const candidates = live.filter((w) => busy.has(w.id));
  const pool = candidates.length > 0 ? candidates : live;
  const worker = pool[ctx.rng.nextUint32() % pool.length];
  if (worker === undefined) throw new Error('no live worker to pick');
  return worker;
}

/** A uniform integer in [min, max] from the scenario's PRNG. */
export function randomInt(ctx: ScenarioContext, min: number, max: number): number {
  return min + (ctx.rng.nextUint32() % (max - min + 1));
}

/**
 * Waits until a checkpoint of the sweep is being written: an epoch directory in s3rver's object
 * directory that has files but no state.json yet (state.json is written last). Polls the disk, not
 * S3, so it sees the write while it happens.
 */
export async function waitCheckpointInFlight(
  ctx: ScenarioContext,
  sweepId: string,
  timeoutMs = SWEEP_END_TIMEOUT_MS,
): Promise<string> {
  const root = `${ctx.stack.s3.dir}/${ctx.stack.bucket}/runs/${sweepId}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const files = await readdir(root, { recursive: true }).catch(() => [] as string[]);
    const dirs = new Map<string, boolean>();
    for (const file of files) {
      const match = /^(.*\/checkpoints\/epoch-\d+)\/(.+)$/.exec(file);
      if (match?.[1] === undefined) continue;
      const hasState = dirs.get(match[1]) === true || (match[2] ?? '').startsWith('state.json');
      dirs.set(match[1], hasState);
    }
    for (const [dir, hasState] of dirs) if (!hasState) return dir;
    await sleep(15);
  }
  throw new Error(`no checkpoint of ${sweepId} seen in flight within ${timeoutMs / 1000}s`);
}

/** Job attempts of the sweep's failed trials that were retried (a deterministic error must not be). */
export async function retriedFailures(stack: ChaosStack, sweep: ChaosSweep): Promise<string[]> {
  const redis = stack.redisClient();
  const queue = stack.queue(redis);
  try {
    const problems: string[] = [];
    for (const trial of sweep.trials.filter((t) => t.status === 'failed')) {
      const job = await queue.getJob(trial.trialId);
      if (job !== undefined && job.attemptsMade > 1) {
        problems.push(
          `trial ${trial.trialNumber} failed after ${job.attemptsMade} attempts (retried)`,
        );
      }
    }
    return problems;
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
