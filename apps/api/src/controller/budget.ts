// The sweep's budget and best trial, as pure functions of its record and trial states (no Redis):
// what the controller decides after folding the queue's view into the trials.
import {
  isBetter,
  parseTrialId,
  type BestTrialSummary,
  type Goal,
  type TrialState,
  type TrialStatus,
} from '@setrain/protocol';

import { countTrials, type SweepRecord } from '../sweep-record.js';

/** Trials that count as "did not improve" for budget.noImprovementTrials. */
const NO_IMPROVEMENT_STATUSES: ReadonlySet<TrialStatus> = new Set([
  'completed',
  'early-stopped',
  'diverged',
]);

/** The best finished trial under `goal`, or null. Ties keep the earlier trial. */
export function bestOf(goal: Goal, trials: readonly TrialState[]): BestTrialSummary | null {
  let best: TrialState | undefined;
  for (const trial of trials) {
    if (trial.status !== 'completed' && trial.status !== 'early-stopped') continue;
    if (trial.objectiveValue === null || !Number.isFinite(trial.objectiveValue)) continue;
    if (best === undefined || isBetter(goal, trial.objectiveValue, best.objectiveValue ?? NaN)) {
      best = trial;
    }
  }
  if (best?.objectiveValue == null) return null;
  return { trialId: best.trialId, params: best.params, objectiveValue: best.objectiveValue };
}

/** Why the sweep fails now (more failed trials than spec.maxFailedTrials), or undefined. */
export function failureCriterion(
  record: SweepRecord,
  trials: readonly TrialState[],
): string | undefined {
  const counts = countTrials(trials);
  const failures = counts.failed + counts.diverged;
  const allowed = record.spec.maxFailedTrials;
  if (failures <= allowed) return undefined;
  return `${failures} trial(s) failed, more than maxFailedTrials (${allowed})`;
}

/**
 * The budget criterion (spec.budget) that ends the sweep now, as its reason, or undefined. The
 * caller checks it only while trials are running or still to come.
 */
export function stopCriterion(
  record: SweepRecord,
  trials: readonly TrialState[],
  now: Date,
): string | undefined {
  const budget = record.spec.budget;
  if (budget === undefined) return undefined;
  const { metric, goal } = record.spec.objective;
  const best = record.best;
  const target = budget.targetObjective;
  if (
    target !== undefined &&
    best !== null &&
    (best.objectiveValue === target || isBetter(goal, best.objectiveValue, target))
  ) {
    return `target objective reached: trial ${best.trialId} has ${metric} ${best.objectiveValue} (target ${goal === 'minimize' ? '<=' : '>='} ${target})`;
  }
  const patience = budget.noImprovementTrials;
  if (patience !== undefined && best !== null) {
    const bestNumber = parseTrialId(best.trialId)?.trialNumber ?? 0;
    const since = trials.filter(
      (t) => t.trialNumber > bestNumber && NO_IMPROVEMENT_STATUSES.has(t.status),
    ).length;
    if (since >= patience) {
      return `no improvement in ${since} trials since trial ${best.trialId} (${metric} ${best.objectiveValue}; noImprovementTrials ${patience})`;
    }
  }
  const wallClock = budget.maxWallClockSeconds;
  if (wallClock !== undefined) {
    const elapsed = (now.getTime() - Date.parse(record.createdAt)) / 1000;
    if (elapsed >= wallClock) {
      return `wall-clock budget of ${wallClock} s spent (${Math.floor(elapsed)} s since the sweep was created)`;
    }
  }
  return undefined;
}

/** The record of a sweep that ended now with `status`. */
export function finishedRecord(
  record: SweepRecord,
  status: 'completed' | 'failed' | 'cancelled',
  at: Date,
  reason?: string,
): SweepRecord {
  return {
    ...record,
    status,
    ...(reason !== undefined ? { reason } : {}),
    finishedAt: at.toISOString(),
  };
}

/**
 * How a sweep whose trials have all ended ends: `completed`, or `failed` with a reason when not
 * one trial succeeded (a sweep never completes with every trial failed and no best).
 */
export function settledOutcome(trials: readonly TrialState[]): {
  status: 'completed' | 'failed';
  reason?: string;
} {
  const counts = countTrials(trials);
  if (trials.length === 0 || counts.completed + counts['early-stopped'] > 0) {
    return { status: 'completed' };
  }
  const ended = (['failed', 'diverged', 'cancelled'] as const)
    .filter((status) => counts[status] > 0)
    .map((status) => `${counts[status]} ${status}`);
  return { status: 'failed', reason: `no trial succeeded: ${ended.join(', ')}` };
}
