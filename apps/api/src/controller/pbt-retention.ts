// Checkpoint retention for PBT trials, applied by the controller instead of the worker.
import { type S3Client } from '@aws-sdk/client-s3';
import { planRetention, runKeys, type CheckpointRoot, type TrialState } from '@setrain/protocol';
import { deletePrefix, listKeys } from '@setrain/storage';

import { type SweepRecord } from '../sweep-record.js';
import { type SweepStore } from '../sweep-store.js';
import { type ControllerLogger } from './options.js';

export interface PbtRetentionOptions {
  readonly store: SweepStore;
  readonly s3: S3Client;
  readonly logger: ControllerLogger;
}

/**
 * A PBT trial's worker keeps every checkpoint of its interval: while it trains, the controller may
 * copy any of them for another trial's exploit, and a worker deleting one mid-copy would break
 * it. The controller applies the sweep's checkpoint retention instead, under the sweep lock (so
 * never during a copy) and while the trial has no job: at each interval boundary the trial keeps
 * its latest and best checkpoints (`latest-and-best`, the default), and once it has trained its
 * whole budget, failed, diverged or been cancelled, only the latest (best/ holds the best epoch's
 * weights), as a normal trial does. A
 * trial therefore holds at most perturbationInterval + 2 checkpoints. Deleting goes by listing:
 * every checkpoint directory of the trial that its saved state does not name goes, which also
 * removes a copy made by an exploit whose state was never saved (a crash or a lost
 * compare-and-set between the copy and the save). With `retention.checkpoints: all` nothing is
 * deleted.
 */
export class PbtRetention {
  constructor(private readonly options: PbtRetentionOptions) {}

  /** Whether the sweep's retention deletes superseded checkpoints (`latest-and-best`). */
  applies(record: SweepRecord): boolean {
    return (record.spec.retention?.checkpoints ?? 'latest-and-best') === 'latest-and-best';
  }

  /** The checkpoints a trial at an interval boundary keeps: its latest and its best epoch's. */
  async atBoundary(record: SweepRecord, state: TrialState): Promise<CheckpointRoot[]> {
    const checkpoints = state.checkpoints ?? [];
    if (!this.applies(record)) return [...checkpoints];
    const history = await this.options.store.getEpochs(state.trialId);
    return planRetention(checkpoints, history, record.spec.objective).keep;
  }

  /** The checkpoints a trial that trained its whole budget (or left the population) keeps: the latest. */
  finished(record: SweepRecord, state: TrialState): CheckpointRoot[] {
    const sorted = [...(state.checkpoints ?? [])].sort((a, b) => a.epoch - b.epoch);
    return this.applies(record) ? sorted.slice(-1) : sorted;
  }

  /**
   * Deletes every checkpoint directory under the trial's checkpoints/ that `state` (as saved) does
   * not name. Call it only while no job of the trial runs. Best effort: a failure is logged (the
   * next boundary deletes what is left). Returns the directories deleted.
   */
  async deleteUnnamed(record: SweepRecord, state: TrialState): Promise<string[]> {
    if (!this.applies(record)) return [];
    const base = runKeys(record.id).trial(state.trialId).checkpointsPrefix;
    const named = new Set((state.checkpoints ?? []).map((root) => root.prefix));
    const deleted: string[] = [];
    try {
      const keys = await listKeys(this.options.s3, record.artifactsBucket, base);
      const dirs = new Set(keys.map((key) => `${base}${key.slice(base.length).split('/')[0]}/`));
      for (const dir of dirs) {
        if (named.has(dir)) continue;
        await deletePrefix(this.options.s3, record.artifactsBucket, dir);
        deleted.push(dir);
      }
    } catch (error) {
      this.options.logger.warn(
        { err: error, sweepId: record.id, trialId: state.trialId },
        'deleting superseded pbt checkpoints failed',
      );
    }
    return deleted;
  }
}
