import { importKerasWeights } from '@setrain/model';
import type { EpochMetrics } from '@setrain/protocol';
import { getObjectBytes, parseS3UriOrThrow } from '@setrain/storage';

import { Prng } from '@setrain/sweep';
import type { TrainingSetup } from './build-model.js';
import { findLatestCheckpoint, restoreCheckpoint, writeCheckpoint } from './checkpoints.js';
import { StopRequested, type TrialContext } from './trial-context.js';

/**
 * The resume stage: restores the trial's latest complete checkpoint (weights, optimizer, RNG,
 * history) or, on a fresh start, loads the payload's backbone weights. Returns the training PRNG.
 */
export async function restoreOrInitialise(ctx: TrialContext, setup: TrainingSetup): Promise<Prng> {
  const { payload, client, bucket } = ctx;
  const latest = await findLatestCheckpoint(client, bucket, ctx.keys.checkpointsPrefix);
  if (latest !== undefined) {
    ctx.channel.send({ type: 'phase', phase: 'restore' });
    const state = await restoreCheckpoint(
      client,
      bucket,
      latest.prefix,
      setup.model,
      setup.optimizer,
    );
    ctx.history.push(...state.epochs.filter((m) => m.epoch <= state.epoch));
    ctx.lastCheckpointEpoch = state.epoch;
    ctx.provenance = { ...ctx.provenance, resumedFromEpoch: state.epoch };
    return Prng.fromState(state.rngState);
  }
  if (payload.model.backboneWeights !== undefined) {
    ctx.channel.send({ type: 'phase', phase: 'backbone-weights' });
    const location = parseS3UriOrThrow(payload.model.backboneWeights);
    const h5 = await getObjectBytes(client, location.bucket, location.key);
    await importKerasWeights(setup.model, h5.bytes);
  }
  return Prng.forStream(payload.training.seed, 'train');
}

/**
 * The checkpoint stage after an epoch: writes the epoch's checkpoint (state.json last, so only
 * complete checkpoints count), reports its size and time, then records the epoch as done.
 */
export async function saveEpochCheckpoint(
  ctx: TrialContext,
  setup: TrainingSetup,
  metrics: EpochMetrics,
  random: Prng,
): Promise<void> {
  // A cancelled trial writes no more checkpoints (a shutdown still saves the finished epoch).
  const stop = ctx.channel.stopRequested();
  if (stop?.reason === 'cancel') throw new StopRequested(stop.reason, stop.message);
  ctx.channel.send({ type: 'phase', phase: 'checkpoint' });
  const started = performance.now();
  const bytes = await writeCheckpoint(
    ctx.client,
    ctx.bucket,
    ctx.keys.checkpoint(metrics.epoch),
    setup.model,
    setup.optimizer,
    {
      trialId: ctx.payload.trialId,
      epoch: metrics.epoch,
      rngState: [...random.state],
      epochs: [...ctx.history, metrics],
      optimizerName: ctx.payload.training.optimizer,
    },
  );
  ctx.channel.send({
    type: 'metric',
    event: {
      kind: 'checkpoint',
      checkpoint: 'epoch',
      seconds: (performance.now() - started) / 1000,
      bytes,
    },
  });
  ctx.history.push(metrics);
  ctx.lastCheckpointEpoch = metrics.epoch;
}
