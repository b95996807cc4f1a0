import { importKerasWeights } from '@setrain/model';
import { formatS3Uri, type CheckpointRoot, type EpochMetrics } from '@setrain/protocol';
import {
  ChecksumMismatchError,
  getObjectBytes,
  parseS3UriOrThrow,
  sha256Hex,
} from '@setrain/storage';

import { Prng } from '@setrain/sweep';

import { WorkerError } from '../worker-error.js';
import type { TrainingSetup } from './build-model.js';
import { planRetention } from './checkpoint-retention.js';
import {
  applyModelWeights,
  applyOptimizerState,
  CheckpointCorruptError,
  readVerifiedCheckpoint,
  writeCheckpoint,
  type VerifiedCheckpoint,
} from './checkpoints.js';
import { StopRequested, type TrialContext } from './trial-context.js';

/**
 * The newest of the trial's recorded checkpoints that verifies from its trusted root; each one that
 * does not is named in ctx.checkpointProblems and dropped from ctx.checkpoints.
 */
async function newestVerifiedCheckpoint(
  ctx: TrialContext,
): Promise<VerifiedCheckpoint | undefined> {
  const newestFirst = [...ctx.checkpoints].sort((a, b) => b.epoch - a.epoch);
  const failed = new Set<CheckpointRoot>();
  let verified: VerifiedCheckpoint | undefined;
  for (const root of newestFirst) {
    try {
      verified = await readVerifiedCheckpoint(ctx.client, ctx.bucket, root);
      break;
    } catch (error) {
      if (!(error instanceof CheckpointCorruptError)) throw error;
      ctx.checkpointProblems.push(`epoch ${root.epoch}: ${error.message}`);
      failed.add(root);
    }
  }
  // Checkpoints newer than the one resumed from are superseded by what training writes next.
  ctx.checkpoints = ctx.checkpoints
    .filter((root) => !failed.has(root) && root.epoch <= (verified?.root.epoch ?? 0))
    .sort((a, b) => a.epoch - b.epoch);
  return verified;
}

/**
 * Reads the payload's backbone .h5, checked against its sha256 metadata. A backbone without that
 * metadata is refused: the worker never trains on bytes it cannot verify.
 */
async function readBackboneWeights(ctx: TrialContext, uri: string): Promise<Uint8Array> {
  const location = parseS3UriOrThrow(uri);
  const h5 = await getObjectBytes(ctx.client, location.bucket, location.key);
  const shown = formatS3Uri(location);
  if (h5.sha256 === undefined) {
    throw new WorkerError(
      'OBJECT_CORRUPT',
      `backbone weights ${shown} have no sha256 metadata, so their bytes cannot be verified; ` +
        'upload them with it (aws s3 cp FILE URI --metadata sha256=<sha256sum of FILE>)',
    );
  }
  const actual = sha256Hex(h5.bytes);
  if (actual !== h5.sha256) {
    const mismatch = new ChecksumMismatchError(shown, h5.sha256, actual);
    throw new WorkerError('OBJECT_CORRUPT', `backbone weights: ${mismatch.message}`, {
      cause: mismatch,
    });
  }
  return h5.bytes;
}

/**
 * The resume stage: restores the newest of the trial's recorded checkpoints that verifies from its
 * trusted root (weights, optimizer, RNG, history), falling back to older ones and naming each
 * object that fails; with none, a fresh start that loads the payload's backbone weights. Nothing
 * is applied to the model before all of a checkpoint's bytes verified. Returns the training PRNG.
 */
export async function restoreOrInitialise(ctx: TrialContext, setup: TrainingSetup): Promise<Prng> {
  const { payload } = ctx;
  if (ctx.checkpoints.length > 0) ctx.channel.send({ type: 'phase', phase: 'restore' });
  const checkpoint = await newestVerifiedCheckpoint(ctx);
  if (checkpoint !== undefined) {
    applyModelWeights(setup.model, checkpoint);
    await applyOptimizerState(setup.optimizer, checkpoint);
    const { state } = checkpoint;
    ctx.history.push(...state.epochs.filter((m) => m.epoch <= state.epoch));
    ctx.lastCheckpointEpoch = state.epoch;
    ctx.provenance = { ...ctx.provenance, resumedFromEpoch: state.epoch };
    return Prng.fromState(state.rngState);
  }
  if (payload.model.backboneWeights !== undefined) {
    ctx.channel.send({ type: 'phase', phase: 'backbone-weights' });
    await importKerasWeights(
      setup.model,
      await readBackboneWeights(ctx, payload.model.backboneWeights),
    );
  }
  return Prng.forStream(payload.training.seed, 'train');
}

/**
 * The checkpoint stage after an epoch: writes the epoch's checkpoint (state.json last, so only
 * complete checkpoints count), reports its size and time, records the epoch as done, and returns
 * the checkpoints it supersedes by the sweep's retention. The trainer never deletes them: the job
 * holder does, once it has recorded the new one's root in the trial's state (a crash in between
 * leaves the recorded roots' checkpoints in place, so a resume always finds the newest complete
 * one; at worst a superseded one stays behind).
 */
export async function saveEpochCheckpoint(
  ctx: TrialContext,
  setup: TrainingSetup,
  metrics: EpochMetrics,
  random: Prng,
): Promise<CheckpointRoot[]> {
  // A cancelled trial writes no more checkpoints (a shutdown still saves the finished epoch).
  const stop = ctx.channel.stopRequested();
  if (stop?.reason === 'cancel') throw new StopRequested(stop.reason, stop.message);
  ctx.channel.send({ type: 'phase', phase: 'checkpoint' });
  const started = performance.now();
  const written = await writeCheckpoint(
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
      bytes: written.bytes,
    },
  });
  ctx.history.push(metrics);
  ctx.lastCheckpointEpoch = metrics.epoch;
  const plan = planRetention(
    [...ctx.checkpoints.filter((root) => root.epoch !== metrics.epoch), written.root],
    ctx.history,
    ctx.payload.objective,
    ctx.payload.retention?.checkpoints,
  );
  ctx.checkpoints = plan.keep;
  return plan.drop;
}
