import {
  isMultiObjective,
  type EpochMetrics,
  type SweepDetail,
  type SweepSummary,
  type TrialDetail,
  type TrialState,
  type TrialSummary,
} from '@setrain/protocol';

import { frontHypervolumeOf, paretoFrontOf } from './pareto-front.js';
import { countTrials, type SweepRecord } from './sweep-record.js';

/** API views of stored sweeps and trials (what the response schemas describe). */
export function toTrialSummary(state: TrialState): TrialSummary {
  return {
    trialId: state.trialId,
    trialNumber: state.trialNumber,
    status: state.status,
    ...(state.reason !== undefined ? { reason: state.reason } : {}),
    params: state.params,
    epochsCompleted: state.epochsCompleted,
    ...(state.latest !== undefined ? { latest: state.latest } : {}),
    objectiveValue: state.objectiveValue,
    ...(state.trialMetrics !== undefined ? { trialMetrics: state.trialMetrics } : {}),
    ...(state.pbt !== undefined ? { pbt: state.pbt } : {}),
    ...(state.queuedAt !== undefined ? { queuedAt: state.queuedAt } : {}),
    ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
    ...(state.finishedAt !== undefined ? { finishedAt: state.finishedAt } : {}),
  };
}

export function toSweepSummary(record: SweepRecord, trials: readonly TrialState[]): SweepSummary {
  return {
    id: record.id,
    kind: record.kind,
    ...(record.name !== undefined ? { name: record.name } : {}),
    status: record.status,
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
    createdAt: record.createdAt,
    ...(record.finishedAt !== undefined ? { finishedAt: record.finishedAt } : {}),
    plannedTrials: record.plannedTrials,
    startedTrials: record.startedTrials,
    counts: countTrials(trials),
    objective: record.spec.objective,
    ...(isMultiObjective(record.spec) ? { objectives: record.spec.objectives } : {}),
    best: record.best,
  };
}

/** A multi-objective sweep's detail field `front`: its Pareto front's trial numbers. */
export function frontOf(
  record: SweepRecord,
  trials: readonly TrialState[],
): Pick<SweepDetail, 'front' | 'hypervolume'> {
  if (!isMultiObjective(record.spec)) return {};
  const front = paretoFrontOf(record.spec, trials);
  const hypervolume = frontHypervolumeOf(record.spec, front);
  return {
    front: front.map((t) => t.trialNumber),
    ...(hypervolume !== undefined ? { hypervolume } : {}),
  };
}

export function toSweepDetail(record: SweepRecord, trials: readonly TrialState[]): SweepDetail {
  return {
    ...toSweepSummary(record, trials),
    spec: record.spec,
    trials: trials.map(toTrialSummary),
    ...frontOf(record, trials),
  };
}

export function toTrialDetail(
  sweepId: string,
  state: TrialState,
  epochs: readonly EpochMetrics[],
): TrialDetail {
  return {
    ...toTrialSummary(state),
    sweepId,
    attempts: state.attempts,
    ...(state.workerId !== undefined ? { workerId: state.workerId } : {}),
    ...(state.trialJson !== undefined ? { trialJson: state.trialJson } : {}),
    epochs: [...epochs],
    attemptsLog: state.attemptsLog ?? [],
  };
}
