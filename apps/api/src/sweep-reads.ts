import { type EpochMetrics, type TrialState } from '@setrain/protocol';

import { type RouteContext } from './app.js';
import { ApiError } from './errors.js';
import { type SweepRecord } from './sweep-record.js';

/** A sweep as the read routes show it: from Redis while it lives there, else from its archive. */
export interface SweepView {
  readonly record: SweepRecord;
  readonly trials: readonly TrialState[];
  /** True when read from runs/<sweepId>/archive.json (its Redis keys have expired). */
  readonly archived: boolean;
}

/** A sweep's S3 archive (undefined when it has none); S3 errors answer S3_UNAVAILABLE. */
export async function loadArchive(context: RouteContext, sweepId: string) {
  try {
    return await context.archive.load(sweepId);
  } catch (error) {
    throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
  }
}

/** A sweep from Redis, or from its S3 archive once its keys expired; undefined when neither has it. */
export async function findSweepView(
  context: RouteContext,
  sweepId: string,
): Promise<SweepView | undefined> {
  const record = await context.store.getSweep(sweepId);
  if (record !== undefined) {
    return { record, trials: await context.store.getTrials(sweepId), archived: false };
  }
  const archive = await loadArchive(context, sweepId);
  return archive && { record: archive.sweep, trials: archive.trials, archived: true };
}

/** findSweepView or a 404. */
export async function loadSweepView(context: RouteContext, sweepId: string): Promise<SweepView> {
  const view = await findSweepView(context, sweepId);
  if (view === undefined) throw new ApiError('SWEEP_NOT_FOUND', { sweepId });
  return view;
}

/** A trial's state and epoch metrics, from Redis or from its sweep's archive. */
export async function findTrialView(
  context: RouteContext,
  sweepId: string,
  trialId: string,
): Promise<{ state: TrialState; epochs: EpochMetrics[] } | undefined> {
  const state = await context.store.getTrial(sweepId, trialId);
  if (state !== undefined) return { state, epochs: await context.store.getEpochs(trialId) };
  if ((await context.store.getSweep(sweepId)) !== undefined) return undefined;
  const archive = await loadArchive(context, sweepId);
  const archived = archive?.trials.find((t) => t.trialId === trialId);
  return archived && { state: archived, epochs: archive?.epochs[trialId] ?? [] };
}
