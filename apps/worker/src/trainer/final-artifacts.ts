import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { TrialMetrics } from '@setrain/protocol';

import { bestEpochOf } from '../objective.js';
import type { TrialOutcome } from '../trial-ipc.js';
import { buildTrialRecord, endLastAttempt, writeTrialRecord } from '../trial-record.js';
import { WorkerError } from '../worker-error.js';
import { deleteCheckpoint } from '../checkpoint-delete.js';
import { applyModelWeights, readVerifiedCheckpoint } from './checkpoints.js';
import type { TrialContext } from './trial-context.js';
import { writeWeightSets, type WeightSetsPlan } from './weight-sets.js';

/**
 * Puts the best epoch's weights into `model` from its checkpoint, verified from its trusted root.
 * Without a verifiable checkpoint of that epoch there is no best/ to write: a non-retryable error.
 */
async function loadBestEpochWeights(
  ctx: TrialContext,
  model: LayersModel,
  bestEpoch: number,
): Promise<void> {
  const root = ctx.checkpoints.find((r) => r.epoch === bestEpoch);
  if (root === undefined) {
    throw new WorkerError(
      'OBJECT_MISSING',
      `the best epoch ${bestEpoch}'s checkpoint is not among the trial's recorded checkpoints`,
    );
  }
  applyModelWeights(model, await readVerifiedCheckpoint(ctx.client, ctx.bucket, root));
}

/** final/ and best/ of this trial, as writeWeightSets takes them. */
function weightSetsPlan(ctx: TrialContext): WeightSetsPlan {
  const lastEpoch = ctx.lastCheckpointEpoch;
  const bestEpoch = bestEpochOf(ctx.history, ctx.payload.objective).epoch ?? lastEpoch;
  return {
    client: ctx.client,
    bucket: ctx.bucket,
    finalPrefix: ctx.keys.final,
    bestPrefix: ctx.keys.best,
    lastEpoch,
    bestEpoch,
    loadBestWeights: (model) => loadBestEpochWeights(ctx, model, bestEpoch),
  };
}

/**
 * With the default retention, deletes every checkpoint but the latest once trial.json is written:
 * best/ holds the best epoch's weights from then on.
 */
async function dropSupersededCheckpoints(ctx: TrialContext): Promise<void> {
  if ((ctx.payload.retention?.checkpoints ?? 'latest-and-best') !== 'latest-and-best') return;
  const latest = ctx.lastCheckpointEpoch;
  for (const root of ctx.checkpoints.filter((r) => r.epoch !== latest)) {
    await deleteCheckpoint(ctx.client, ctx.bucket, root.prefix);
  }
  ctx.checkpoints = ctx.checkpoints.filter((root) => root.epoch === latest);
}

/** How the trial ended besides its weights: what trial.json records. */
export interface FinalOutcome {
  /** Why early stopping ended the trial; undefined when it ran its full budget. */
  readonly earlyStopped: string | undefined;
  /** Parameter count, latency and seconds per epoch, measured after training. */
  readonly trialMetrics?: TrialMetrics | undefined;
}

/**
 * The final stage: writes final/ and best/ and then trial.json (completed, or early-stopped with
 * its reason), and returns the completed outcome.
 */
export async function writeFinalArtifacts(
  ctx: TrialContext,
  model: LayersModel,
  classes: readonly string[],
  outcome: FinalOutcome,
): Promise<TrialOutcome> {
  const { earlyStopped } = outcome;
  ctx.channel.send({ type: 'phase', phase: 'final' });
  const started = performance.now();
  const artifacts = await writeWeightSets(weightSetsPlan(ctx), model, classes);
  ctx.channel.send({
    type: 'metric',
    event: {
      kind: 'checkpoint',
      checkpoint: 'final',
      seconds: (performance.now() - started) / 1000,
      bytes: artifacts.reduce((sum, a) => sum + a.bytes, 0),
    },
  });
  const status = earlyStopped !== undefined ? 'early-stopped' : 'completed';
  const record = buildTrialRecord(ctx.payload, {
    status,
    reason: earlyStopped,
    attemptsLog: endLastAttempt(ctx.request.attemptsLog, status),
    epochs: ctx.history,
    provenance: ctx.provenance,
    artifacts,
    startedAt: ctx.startedAt,
    trialMetrics: outcome.trialMetrics,
  });
  await writeTrialRecord(ctx.client, ctx.bucket, ctx.keys.trialJson, record);
  await dropSupersededCheckpoints(ctx);
  return {
    kind: 'completed',
    record,
    trialJsonKey: ctx.keys.trialJson,
    checkpoints: [...ctx.checkpoints],
  };
}
