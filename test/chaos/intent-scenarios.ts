/**
 * Scenarios about intent and bad input: a cancel sent in each phase of a trial (queued, starting,
 * training, checkpointing, while a SIGTERMed worker gives the trial back), a dataset with a
 * corrupt and a missing image, a checkpoint corrupted before resume, a worker whose engine fails.
 */
import { CHECKPOINT_FILES, runKeys } from '@setrain/protocol';
import { listObjects, putObject } from '@setrain/storage';

import { uploadShapesDataset } from '../fixtures/shapes-dataset.js';
import { killProcess, waitExit } from './chaos-stack.js';
import {
  chaosSpec,
  retriedFailures,
  SWEEP_END_TIMEOUT_MS,
  waitCheckpointInFlight,
  waitRunningTrial,
  workerOf,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutcome,
} from './scenario.js';
import { cancelSweep, createSweep, waitSweep } from './sweep-client.js';

/** A cancel must be answered (2xx) and leave the sweep cancelled with nothing completing after. */
async function cancelNow(
  ctx: ScenarioContext,
  sweepId: string,
  phase: string,
  maxTrials: number,
): Promise<ScenarioOutcome> {
  const sentAt = Date.now();
  const status = await cancelSweep(ctx.stack, sweepId, `chaos: cancel while ${phase}`);
  const answeredAt = Date.now();
  ctx.log(`cancel (${phase}) answered ${status}`);
  return {
    sweepId,
    maxTrials,
    recoveryMs: answeredAt - sentAt,
    expect: { status: 'cancelled', maxTrials, cancelledAt: answeredAt, endTimeoutMs: 120_000 },
    extraChecks: () =>
      Promise.resolve(status >= 200 && status < 300 ? [] : [`cancel answered HTTP ${status}`]),
  };
}

const CANCEL_SHAPE = { maxTrials: 2, parallelism: 2, epochs: 3 };

export const INTENT_SCENARIOS: Scenario[] = [
  {
    name: 'cancel-queued',
    description: 'cancel while the trials wait in the queue (every worker SIGSTOPped)',
    async run(ctx) {
      const workers = ctx.stack.liveWorkers();
      for (const w of workers) process.kill(-w.process.pid, 'SIGSTOP');
      try {
        const sweep = await createSweep(ctx.stack, chaosSpec(ctx, 'cancel-queued', CANCEL_SHAPE));
        return await cancelNow(ctx, sweep.id, 'queued', 2);
      } finally {
        for (const w of workers) process.kill(-w.process.pid, 'SIGCONT');
      }
    },
  },
  {
    name: 'cancel-starting',
    description: 'cancel as soon as a trial shows running, before its first epoch',
    async run(ctx) {
      const sweep = await createSweep(ctx.stack, chaosSpec(ctx, 'cancel-starting', CANCEL_SHAPE));
      await waitRunningTrial(ctx, sweep.id, 0, 50);
      return cancelNow(ctx, sweep.id, 'starting', 2);
    },
  },
  {
    name: 'cancel-training',
    description: 'cancel mid-training (after the first epoch)',
    async run(ctx) {
      const sweep = await createSweep(ctx.stack, chaosSpec(ctx, 'cancel-training', CANCEL_SHAPE));
      await waitRunningTrial(ctx, sweep.id, 1);
      return cancelNow(ctx, sweep.id, 'training', 2);
    },
  },
  {
    name: 'cancel-checkpointing',
    description: 'cancel while a checkpoint is being written',
    async run(ctx) {
      const sweep = await createSweep(
        ctx.stack,
        chaosSpec(ctx, 'cancel-checkpointing', CANCEL_SHAPE),
      );
      await waitCheckpointInFlight(ctx, sweep.id);
      return cancelNow(ctx, sweep.id, 'checkpointing', 2);
    },
  },
  {
    name: 'cancel-giveback',
    description: 'SIGTERM the worker of a trial and cancel while it gives the trial back',
    short: true,
    async run(ctx) {
      const sweep = await createSweep(ctx.stack, chaosSpec(ctx, 'cancel-giveback', CANCEL_SHAPE));
      const trial = await waitRunningTrial(ctx, sweep.id, 1);
      const victim = await workerOf(ctx.stack, trial.trialId);
      // A third worker stands ready to take the given-back job (the lost-cancel path).
      await ctx.stack.startWorker();
      ctx.log(`SIGTERM ${victim.id} then cancel`);
      killProcess(victim.process, 'SIGTERM');
      const outcome = await cancelNow(ctx, sweep.id, 'giving back', 2);
      await waitExit(victim.process, 60_000);
      return outcome;
    },
  },
  {
    name: 'bad-images',
    description: 'a dataset with a corrupt and a missing image: trials fail at once, naming them',
    async run(ctx) {
      const [corrupt, missing] = ctx.dataset.images.map((i) => i.key);
      if (corrupt === undefined || missing === undefined) throw new Error('dataset too small');
      const bad = await uploadShapesDataset(ctx.stack.s3Client, ctx.stack.bucket, 'datasets/bad', {
        count: 12,
        seed: ctx.seed,
        corruptKeys: [corrupt],
        missingKeys: [missing],
      });
      const sweep = await createSweep(
        ctx.stack,
        chaosSpec(ctx, 'bad-images', { dataset: bad.manifestUri, epochs: 1, maxFailedTrials: 1 }),
      );
      const names = new RegExp(`${escape(corrupt)}|${escape(missing)}`);
      return {
        sweepId: sweep.id,
        maxTrials: 2,
        expect: {
          status: 'failed',
          maxTrials: 2,
          failedReason: names,
          endTimeoutMs: SWEEP_END_TIMEOUT_MS,
        },
        extraChecks: async (ended) => [
          ...(await retriedFailures(ctx.stack, ended)),
          ...(ended.trials.some((t) => t.status === 'failed')
            ? []
            : ['no trial failed on the bad images']),
        ],
      };
    },
  },
  {
    name: 'checkpoint-corrupt',
    description:
      'kill every worker, corrupt the latest checkpoint, restart: resume or a clear error',
    async run(ctx) {
      const sweep = await createSweep(
        ctx.stack,
        chaosSpec(ctx, 'checkpoint-corrupt', { maxTrials: 1, parallelism: 1, epochs: 3 }),
      );
      const trial = await waitRunningTrial(ctx, sweep.id, 1);
      for (const worker of ctx.stack.liveWorkers()) {
        killProcess(worker.process);
        await waitExit(worker.process);
      }
      const key = await latestCheckpointWeights(ctx, sweep.id, trial.trialId);
      ctx.log(`corrupting ${key}`);
      await putObject(ctx.stack.s3Client, ctx.stack.bucket, key, Buffer.from('not weights'));
      const started = Date.now();
      await ctx.stack.startWorker();
      await waitSweep(
        ctx.stack,
        sweep.id,
        'the trial to go on',
        (s) =>
          s.status !== 'running' || s.trials.some((t) => t.epochsCompleted > trial.epochsCompleted),
        SWEEP_END_TIMEOUT_MS,
      );
      return {
        sweepId: sweep.id,
        maxTrials: 1,
        recoveryMs: Date.now() - started,
        // Either the trial goes on from an earlier checkpoint (or from scratch) and completes,
        // or it fails once with an error naming the checkpoint; never retried three times.
        expect: {
          // A sweep whose only trial failed ends failed.
          status: ['completed', 'failed'],
          failedReason: /checkpoint/i,
          endTimeoutMs: SWEEP_END_TIMEOUT_MS,
        },
        extraChecks: (ended) => retriedFailures(ctx.stack, ended),
      };
    },
  },
  {
    name: 'engine-fails',
    description: 'a worker whose engine cannot load must not take and fail trials',
    async run(ctx) {
      const bad = await ctx.stack.startWorker({ SETRAIN_ENGINE: 'tensorflow' }, false);
      const sweep = await createSweep(
        ctx.stack,
        chaosSpec(ctx, 'engine-fails', { maxTrials: 3, parallelism: 2, epochs: 1 }),
      );
      return {
        sweepId: sweep.id,
        maxTrials: 3,
        expect: { status: 'completed', endTimeoutMs: SWEEP_END_TIMEOUT_MS },
        extraChecks: () => {
          const exit = bad.process.exit();
          if (exit === undefined) return Promise.resolve([]);
          return Promise.resolve(
            /tensorflow/i.test(bad.process.output())
              ? []
              : [
                  `the worker with a broken engine exited without naming it:\n${bad.process.output().slice(-500)}`,
                ],
          );
        },
      };
    },
  },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function latestCheckpointWeights(
  ctx: ScenarioContext,
  sweepId: string,
  trialId: string,
): Promise<string> {
  const prefix = runKeys(sweepId).trial(trialId).checkpointsPrefix;
  const state = `/${CHECKPOINT_FILES.state}`;
  const complete: string[] = [];
  for await (const object of listObjects(ctx.stack.s3Client, ctx.stack.bucket, prefix)) {
    if (object.key.endsWith(state)) complete.push(object.key.slice(0, -state.length + 1));
  }
  // Epoch directories are zero-padded, so the last in sort order is the latest.
  const latest = complete.sort().at(-1);
  if (latest === undefined) throw new Error(`no complete checkpoint under ${prefix}`);
  return `${latest}${CHECKPOINT_FILES.weights}`;
}
