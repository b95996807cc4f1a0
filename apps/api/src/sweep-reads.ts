import { type TrialState } from '@setrain/protocol';

import { type RouteContext } from './app.js';
import { ApiError } from './errors.js';
import { type SweepRecord } from './sweep-record.js';
import { trialDetailJson } from './trial-detail-json.js';

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
  const record = await context.reads.getSweep(sweepId);
  if (record !== undefined) {
    return { record, trials: await context.reads.getTrials(sweepId), archived: false };
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

/**
 * `GET /v1/trials/:id`'s body: from Redis (through the memo of unchanged trials), or from its
 * sweep's archive once the keys expired; undefined when there is no such trial.
 */
export async function findTrialDetailJson(
  context: RouteContext,
  sweepId: string,
  trialId: string,
): Promise<string | undefined> {
  const { state, epochs } = await context.reads.getTrialRaws(sweepId, trialId);
  if (state !== undefined)
    return context.trialDetails.detailJson(sweepId, trialId, { state, epochs });
  if ((await context.reads.getSweep(sweepId)) !== undefined) return undefined;
  const archive = await loadArchive(context, sweepId);
  const archived = archive?.trials.find((t) => t.trialId === trialId);
  return archived && trialDetailJson(sweepId, archived, archive?.epochs[trialId] ?? []);
}
