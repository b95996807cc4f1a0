// Which checkpoints a trial keeps: the worker applies it after each epoch, the controller at each
// PBT interval boundary (apps/api/src/controller/pbt-retention.ts).
import {
  DEFAULT_CHECKPOINT_RETENTION,
  type CheckpointRetention,
  type CheckpointRoot,
} from './artifacts.js';
import { bestEpochOf } from './objective-value.js';
import { type Objective } from './training.js';
import { type EpochMetrics } from './trial.js';

/** Which of a trial's complete checkpoints stay and which are superseded. */
export interface RetentionPlan {
  /** Oldest first. */
  readonly keep: CheckpointRoot[];
  readonly drop: CheckpointRoot[];
}

/**
 * `latest-and-best` keeps the latest checkpoint (to resume from) and the best epoch's by the
 * objective (for best/); `all` keeps every one. Pure: the caller deletes `drop` only after the
 * latest checkpoint is complete and recorded.
 */
export function planRetention(
  checkpoints: readonly CheckpointRoot[],
  history: readonly EpochMetrics[],
  objective: Objective,
  retention: CheckpointRetention = DEFAULT_CHECKPOINT_RETENTION,
): RetentionPlan {
  const sorted = [...checkpoints].sort((a, b) => a.epoch - b.epoch);
  if (retention === 'all') return { keep: sorted, drop: [] };
  const latest = sorted.at(-1)?.epoch;
  const best = bestEpochOf(history, objective).epoch;
  const kept = (root: CheckpointRoot) => root.epoch === latest || root.epoch === best;
  return { keep: sorted.filter(kept), drop: sorted.filter((root) => !kept(root)) };
}
