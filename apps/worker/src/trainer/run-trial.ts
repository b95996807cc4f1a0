import { initEngine } from '@setrain/engine';

import type { TrialOutcome, TrialRunRequest, TrialStarted } from '../trial-ipc.js';
import { buildTrialModel, type TrainingSetup } from './build-model.js';
import { engineOptionsOf } from './engine-options.js';
import { restoreOrInitialise } from './checkpoint-stage.js';
import { trainEpochs } from './epoch-loop.js';
import { writeFinalArtifacts } from './final-artifacts.js';
import { measureTrialMetrics } from './trial-metrics.js';
import { loadTrialData, type PreparedData } from './prepare-data.js';
import { createTrialContext, type TrialChannel, type TrialContext } from './trial-context.js';
import { outcomeOfError } from './trial-failure.js';
import { checkDataLocations, checkTrialMemory, limitsOf } from './trial-limits.js';

/** The engine stage: initialises the tfjs backend the request names. */
async function startEngine(ctx: TrialContext): Promise<{ backend: string; description: string }> {
  ctx.channel.send({ type: 'phase', phase: 'engine' });
  const ready = await initEngine(engineOptionsOf(ctx.request));
  ctx.provenance = { ...ctx.provenance, engine: ready.backend };
  ctx.channel.send({ type: 'metric', event: { kind: 'engine', engine: ready.backend } });
  return ready;
}

function startedReport(
  ctx: TrialContext,
  engine: { backend: string; description: string },
  data: PreparedData,
): TrialStarted {
  return {
    engine: engine.backend,
    engineDescription: engine.description,
    resumedFromEpoch: ctx.lastCheckpointEpoch,
    history: [...ctx.history],
    numClasses: data.dataset.classes.length,
    multiLabel: data.dataset.multiLabel,
    trainImages: data.train.length,
    validationImages: data.validation.length,
    manifestEtag: data.dataset.manifestEtag,
    downloaded: data.downloaded,
    cached: data.cached,
    checkpoints: [...ctx.checkpoints],
    checkpointProblems: [...ctx.checkpointProblems],
  };
}

/**
 * Runs one trial to an outcome, stage by stage: limits (data buckets, memory budget), engine, data (validate the dataset, open its decoded
 * images), model, resume from the latest complete checkpoint, the epoch loop (checkpoint after each
 * epoch), then final/ and trial.json. Never throws: every failure becomes a `failed` outcome.
 */
export async function runTrial(
  request: TrialRunRequest,
  channel: TrialChannel,
): Promise<TrialOutcome> {
  const ctx = createTrialContext(request, channel);
  let setup: TrainingSetup | undefined;
  /** Holds the decoded images' file open until the trial ends. */
  let prepared: PreparedData | undefined;
  try {
    const limits = limitsOf(request);
    checkDataLocations(request.payload, limits);
    checkTrialMemory(request.payload, limits);
    const engine = await startEngine(ctx);
    ctx.checkStop();
    const data = await loadTrialData(ctx);
    prepared = data;
    checkTrialMemory(request.payload, limits, data.dataset.classes.length);
    setup = buildTrialModel(ctx, data);
    const random = await restoreOrInitialise(ctx, setup);
    channel.send({ type: 'started', started: startedReport(ctx, engine, data) });
    const earlyStopped = await trainEpochs(ctx, setup, data, random);
    ctx.checkStop();
    const trialMetrics = await measureTrialMetrics(setup.model, setup.inputSize, ctx.history);
    return await writeFinalArtifacts(ctx, setup.model, data.dataset.classes, {
      earlyStopped,
      trialMetrics,
    });
  } catch (error) {
    return await outcomeOfError(ctx, error);
  } finally {
    setup?.model.dispose();
    await prepared?.images.close();
  }
}
