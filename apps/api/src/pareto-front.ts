// The Pareto front of a multi-objective sweep, read from its trial states (what /best returns and
// the sweep detail marks): there is no single best trial, so nothing of it is stored.
import {
  goalsOf,
  objectiveValuesOf,
  objectivesOf,
  type ObjectivesView,
  type ParetoFrontTrial,
  type TrialState,
} from '@setrain/protocol';
import { dominates } from '@setrain/sweep';

/**
 * The finished trials (completed or early-stopped) whose every objective is known and that no
 * other such trial dominates, by trial number. Trials with equal values are all on the front.
 */
export function paretoFrontOf(
  spec: ObjectivesView,
  trials: readonly TrialState[],
): ParetoFrontTrial[] {
  const objectives = objectivesOf(spec);
  const goals = goalsOf(spec);
  const scored = trials.flatMap((trial) => {
    if (trial.status !== 'completed' && trial.status !== 'early-stopped') return [];
    const values = objectiveValuesOf(objectives, trial);
    return values === undefined ? [] : [{ trial, values }];
  });
  return scored
    .filter((a) => !scored.some((b) => b !== a && dominates(b.values, a.values, goals)))
    .sort((a, b) => a.trial.trialNumber - b.trial.trialNumber)
    .map(({ trial, values }) => ({
      trialId: trial.trialId,
      trialNumber: trial.trialNumber,
      params: trial.params,
      values,
    }));
}
