// Which trials `retention: { trials: best-k, k }` keeps the weights of when a sweep is archived.
import {
  goalsOf,
  isBetter,
  isMultiObjective,
  objectiveValuesOf,
  objectivesOf,
  type ObjectivesView,
  type TrialState,
} from '@setrain/protocol';
import { nondominatedRanks } from '@setrain/sweep';

const finished = (t: TrialState) => t.status === 'completed' || t.status === 'early-stopped';

/**
 * The trial ids whose weights best-k keeps. One objective: the k best by it (ties: lower trial
 * number). Several: every trial of the Pareto front, even when it has more than k, and up to k in
 * all by non-dominated rank (the front, then the front of the rest, and so on; ties: lower trial
 * number), over the finished trials with every objective value (those the front is made of).
 */
export function trialsKeptByBestK(
  spec: ObjectivesView,
  trials: readonly TrialState[],
  k: number,
): Set<string> {
  if (!isMultiObjective(spec)) {
    const { goal } = spec.objective;
    const ranked = trials
      .filter((t) => t.objectiveValue !== null)
      .sort((a, b) => {
        const [x, y] = [a.objectiveValue ?? 0, b.objectiveValue ?? 0];
        if (x === y) return a.trialNumber - b.trialNumber;
        return isBetter(goal, x, y) ? -1 : 1;
      });
    return new Set(ranked.slice(0, k).map((t) => t.trialId));
  }
  const objectives = objectivesOf(spec);
  const scored = trials.flatMap((trial) => {
    const values = finished(trial) ? objectiveValuesOf(objectives, trial) : undefined;
    return values === undefined ? [] : [{ trial, values }];
  });
  const ranks = nondominatedRanks(
    scored.map((s) => s.values),
    goalsOf(spec),
  );
  const ranked = scored
    .map((s, i) => ({ trial: s.trial, rank: ranks[i] ?? Infinity }))
    .sort((a, b) => a.rank - b.rank || a.trial.trialNumber - b.trial.trialNumber);
  return new Set(ranked.filter((r, i) => r.rank === 0 || i < k).map((r) => r.trial.trialId));
}
