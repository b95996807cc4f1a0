// The objective of one epoch and the best epoch of a run: shared by the worker (best/, early stopping) and
// the controller (PBT copies the donor checkpoint of its best epoch).
import type { EpochMetrics } from './trial.js';
import { isBetter, type Objective } from './training.js';

/** The objective's value in one epoch's metrics, if that epoch has it. */
export function objectiveOf(metrics: EpochMetrics, objective: Objective): number | undefined {
  const value = metrics[objective.metric];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The best objective value over epochs and the epoch it came from. */
export function bestEpochOf(
  epochs: readonly EpochMetrics[],
  objective: Objective,
): { value: number | null; epoch: number | null } {
  let best: { value: number | null; epoch: number | null } = { value: null, epoch: null };
  for (const metrics of epochs) {
    const value = objectiveOf(metrics, objective);
    if (value === undefined) continue;
    if (best.value === null || isBetter(objective.goal, value, best.value)) {
      best = { value, epoch: metrics.epoch };
    }
  }
  return best;
}
