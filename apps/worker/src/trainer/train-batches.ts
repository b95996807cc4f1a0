import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';

import * as tf from '@tensorflow/tfjs-core';
import {
  DEFAULT_RECALIBRATION_BATCHES,
  recalibrateBatchNorm,
  seedDropoutForStep,
} from '@setrain/model';

import { loadBatch, type BatchArrays, type SamplePlan } from '../data-pipeline.js';
import { WorkerError } from '../worker-error.js';
import type { TrainingSetup } from './build-model.js';
import type { PreparedData } from './prepare-data.js';
import type { TrialContext } from './trial-context.js';

/** Loads one batch of pixels and targets. */
export type BatchLoader = (plans: SamplePlan[]) => Promise<BatchArrays>;

/** A loader whose batches may be started early (prefetch) and abandoned by a stop. */
export function batchLoader(data: PreparedData, setup: TrainingSetup): BatchLoader {
  return (plans) => {
    const promise = loadBatch(data.images, data.samples, plans, setup.inputSize, setup.numClasses);
    // Awaited later; a stop before then must not turn its failure into an unhandled rejection.
    promise.catch(() => undefined);
    return promise;
  };
}

/** Sums over one epoch's training batches. */
export interface EpochTotals {
  lossSum: number;
  accuracySum: number;
  seen: number;
}

/** The global training step counter (1-based once a step ran); it spans epochs. */
export interface StepCounter {
  step: number;
}

/** One optimiser step on one batch; returns its loss and accuracy, failing on a non-finite loss. */
async function trainStep(
  ctx: TrialContext,
  setup: TrainingSetup,
  arrays: BatchArrays,
  counter: StepCounter,
  where: { epoch: number; batch: number },
): Promise<{ loss: number; accuracy: number; seconds: number }> {
  const x = tf.tensor4d(arrays.pixels, [arrays.count, setup.inputSize, setup.inputSize, 3]);
  const y = tf.tensor2d(arrays.targets, [arrays.count, setup.numClasses]);
  let result: number | number[];
  const started = performance.now();
  // Dropout masks from the trial's seed and the global step: reproducible, and after a resume too.
  seedDropoutForStep(setup.model, ctx.payload.training.seed, counter.step + 1);
  try {
    result = await setup.model.trainOnBatch(x, y);
  } finally {
    x.dispose();
    y.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  counter.step += 1;
  let loss = Array.isArray(result) ? (result[0] ?? Number.NaN) : result;
  const accuracy = Array.isArray(result) ? (result[1] ?? Number.NaN) : Number.NaN;
  if (ctx.request.faults?.nanLossAtStep === counter.step) loss = Number.NaN;
  if (!Number.isFinite(loss)) {
    throw new WorkerError(
      'TRIAL_DIVERGED',
      `training diverged: loss is ${loss} at epoch ${where.epoch}, batch ${where.batch} (learning rate ${ctx.payload.training.learningRate})`,
    );
  }
  return { loss, accuracy, seconds };
}

/**
 * Trains on every batch of one epoch, loading the next batch while the current one trains, and
 * checks for a stop at every batch boundary.
 */
export async function trainBatches(
  ctx: TrialContext,
  setup: TrainingSetup,
  load: BatchLoader,
  batches: SamplePlan[][],
  epoch: number,
  counter: StepCounter,
): Promise<EpochTotals> {
  const totals: EpochTotals = { lossSum: 0, accuracySum: 0, seen: 0 };
  let next = load(batches[0] ?? []);
  for (let b = 0; b < batches.length; b++) {
    const waitStart = performance.now();
    const arrays = await next;
    const dataWaitSeconds = (performance.now() - waitStart) / 1000;
    if (b + 1 < batches.length) next = load(batches[b + 1] ?? []);
    const { loss, accuracy, seconds } = await trainStep(ctx, setup, arrays, counter, {
      epoch,
      batch: b + 1,
    });
    totals.lossSum += loss * arrays.count;
    totals.accuracySum += accuracy * arrays.count;
    totals.seen += arrays.count;
    ctx.channel.send({ type: 'batch', epoch, batch: b + 1, batches: batches.length, loss });
    ctx.channel.send({
      type: 'metric',
      event: { kind: 'step', seconds, images: arrays.count, loss, dataWaitSeconds },
    });
    const delay = ctx.request.faults?.batchDelayMs;
    if (delay !== undefined) await sleep(delay);
    // Let IPC messages (cancel, shutdown) in: trainOnBatch only yields to microtasks.
    await yieldToEventLoop();
    ctx.checkStop();
  }
  return totals;
}

/**
 * Precise BN: after a short run the momentum-0.99 moving statistics are still near their initial
 * values, and validation (inference mode) would score a nearly constant model. Re-estimates them
 * on the epoch's first training batches.
 */
export async function recalibrate(
  ctx: TrialContext,
  setup: TrainingSetup,
  load: BatchLoader,
  batches: SamplePlan[][],
): Promise<void> {
  ctx.channel.send({ type: 'phase', phase: 'calibrate' });
  const calibrationPlans = batches.slice(0, DEFAULT_RECALIBRATION_BATCHES);
  const { inputSize } = setup;
  await recalibrateBatchNorm(
    setup.model,
    (async function* () {
      for (const plans of calibrationPlans) {
        ctx.checkStop();
        const arrays = await load(plans);
        const x = tf.tensor4d(arrays.pixels, [arrays.count, inputSize, inputSize, 3]);
        try {
          yield x;
        } finally {
          x.dispose();
        }
        await yieldToEventLoop();
      }
    })(),
  );
}
