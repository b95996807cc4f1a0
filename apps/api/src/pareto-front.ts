// The Pareto front of a multi-objective sweep and its hypervolume, read from its trial states (what
// /best returns and the sweep detail marks): there is no single best trial, so nothing is stored.
import {
  goalsOf,
  type Hypervolume,
  objectiveValuesOf,
  objectivesOf,
  type ObjectivesView,
  type ParetoFrontTrial,
  type TrialState,
} from '@setrain/protocol';
import { dominates, hypervolume, inferReferencePoint } from '@setrain/sweep';

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

/**
 * The front's hypervolume against the spec's `referencePoint`, or else the one BoTorch's rule infers
 * from the front (inferReferencePoint). Undefined while there is neither.
 */
export function frontHypervolumeOf(
  spec: ObjectivesView & { referencePoint?: readonly number[] | undefined },
  front: readonly ParetoFrontTrial[],
): Hypervolume | undefined {
  const goals = goalsOf(spec);
  const values = front.map((t) => t.values);
  const given = spec.referencePoint;
  const referencePoint = given !== undefined ? [...given] : inferReferencePoint(values, goals);
  if (referencePoint === undefined) return undefined;
  return {
    value: hypervolume(values, referencePoint, goals),
    referencePoint,
    referencePointFrom: given !== undefined ? 'spec' : 'front',
  };
}
