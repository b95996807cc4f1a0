import * as tf from '@tensorflow/tfjs-core';
import type { CheckpointRoot, EpochMetrics } from '@setrain/protocol';

import { chunk, planEpoch, planValidation, type SamplePlan } from '../data-pipeline.js';
import { objectiveOf } from '../objective.js';
import type { Prng } from '@setrain/sweep';
import type { TrainingSetup } from './build-model.js';
import { saveEpochCheckpoint } from './checkpoint-stage.js';
import { evaluateValidation } from './evaluate.js';
import type { PreparedData } from './prepare-data.js';
import {
  batchLoader,
  recalibrate,
  trainBatches,
  type BatchLoader,
  type StepCounter,
} from './train-batches.js';
import type { TrialContext } from './trial-context.js';

/** What every epoch of one trial shares. */
interface EpochLoop {
  readonly ctx: TrialContext;
  readonly setup: TrainingSetup;
  readonly data: PreparedData;
  readonly random: Prng;
  readonly load: BatchLoader;
  readonly validationBatches: SamplePlan[][];
  readonly counter: StepCounter;
}

/**
 * Asks the early-stopping rule whether to go on after `epoch` (never before the first or after the
 * last epoch). Returns the stop reason when the rule stops the trial.
 */
async function askToStop(ctx: TrialContext, epoch: number): Promise<string | undefined> {
  const { payload, channel } = ctx;
  if (payload.earlyStopping === undefined || channel.decide === undefined) return undefined;
  if (epoch < 1 || epoch >= payload.training.epochs) return undefined;
  const decision = await channel.decide(epoch);
  if (decision.action !== 'stop') return undefined;
  return decision.reason ?? `early-stopped after epoch ${epoch}`;
}

/**
 * The epoch loop: trains from the epoch after the last checkpoint to the last epoch, with a
 * checkpoint after each, until the early-stopping rule stops it. Returns the early-stop reason.
 */
export async function trainEpochs(
  ctx: TrialContext,
  setup: TrainingSetup,
  data: PreparedData,
  random: Prng,
): Promise<string | undefined> {
  const { augmentation, batchSize } = ctx.payload.training;
  const loop: EpochLoop = {
    ctx,
    setup,
    data,
    random,
    load: batchLoader(data, setup),
    validationBatches: chunk(
      planValidation(data.validation, augmentation, setup.inputSize),
      batchSize,
    ),
    counter: { step: ctx.lastCheckpointEpoch * Math.ceil(data.train.length / batchSize) },
  };
  // A resumed trial asks again for its last epoch: one stopped just before a crash stays stopped.
  let earlyStopped = await askToStop(ctx, ctx.lastCheckpointEpoch);
  for (
    let epoch = ctx.lastCheckpointEpoch + 1;
    earlyStopped === undefined && epoch <= ctx.payload.training.epochs;
    epoch++
  ) {
    await runEpoch(loop, epoch);
    earlyStopped = await askToStop(ctx, epoch);
  }
  return earlyStopped;
}

/** One epoch: train, recalibrate batch norm, evaluate, checkpoint, report. */
async function runEpoch(loop: EpochLoop, epoch: number): Promise<void> {
  const { ctx, setup, data } = loop;
  const { augmentation, batchSize } = ctx.payload.training;
  ctx.checkStop();
  ctx.channel.send({ type: 'phase', phase: 'train' });
  const epochStart = Date.now();
  const batches = chunk(
    planEpoch(data.train, loop.random, augmentation, setup.inputSize),
    batchSize,
  );
  const totals = await trainBatches(ctx, setup, loop.load, batches, epoch, loop.counter);
  const trainMs = Date.now() - epochStart;
  await recalibrate(ctx, setup, loop.load, batches);
  const validation = await evaluateValidation(ctx, setup, data, loop.validationBatches, epoch);
  const metrics: EpochMetrics = {
    epoch,
    loss: totals.lossSum / Math.max(1, totals.seen),
    accuracy: totals.accuracySum / Math.max(1, totals.seen),
    val_loss: validation.loss,
    val_accuracy: validation.accuracy,
    ...(validation.auc !== undefined ? { val_auc: validation.auc } : {}),
    durationMs: Date.now() - epochStart,
    imagesPerSec: totals.seen / Math.max(0.001, trainMs / 1000),
    checkpoint: ctx.keys.checkpoint(epoch),
  };
  const superseded = await saveEpochCheckpoint(ctx, setup, metrics, loop.random);
  reportEpoch(ctx, metrics, epochStart, superseded);
}

/**
 * Sends the epoch's metrics (and tfjs memory, for leak checks) to the job holder, with the
 * checkpoints this epoch's supersedes: it deletes them once it has recorded the new root.
 */
function reportEpoch(
  ctx: TrialContext,
  metrics: EpochMetrics,
  epochStart: number,
  superseded: readonly CheckpointRoot[],
): void {
  const objective = objectiveOf(metrics, ctx.payload.objective);
  ctx.channel.send({
    type: 'metric',
    event: {
      kind: 'epoch',
      seconds: (Date.now() - epochStart) / 1000,
      loss: metrics.loss,
      ...(objective !== undefined ? { objective } : {}),
    },
  });
  const memory = tf.memory();
  ctx.channel.send({
    type: 'metric',
    event: { kind: 'tfjs-memory', numTensors: memory.numTensors, numBytes: memory.numBytes },
  });
  ctx.channel.send({
    type: 'epoch',
    metrics,
    numTensors: tf.memory().numTensors,
    checkpoints: [...ctx.checkpoints],
    superseded: [...superseded],
  });
}
