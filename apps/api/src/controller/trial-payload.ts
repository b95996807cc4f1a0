// What the controller derives from a sweep's spec for its trials (pure): the sampler, the history
// it suggests from, and each trial's job payload.
import {
  goalsOf,
  objectiveValuesOf,
  objectivesOf,
  resolveTrialConfig,
  trialPayloadSchema,
  type SweepSpec,
  type TrialPayload,
  type TrialState,
} from '@setrain/protocol';
import {
  createSampler,
  DEFAULT_TPE_STARTUP_TRIALS,
  maxTrialEpochs,
  type Observation,
  type Sampler,
} from '@setrain/sweep';

import { type SweepRecord } from '../sweep-record.js';
import { pbtOf, pbtSchedulerOf } from './pbt-stepper.js';

/**
 * The sweep's sampler. With warm-start results, TPE's random startup is shortened by their
 * number: they already are the observations the startup trials would have produced.
 */
export function samplerOf(record: SweepRecord): Sampler {
  const { spec } = record;
  let search = spec.search;
  if (search.strategy === 'tpe' && record.warmStart.length > 0) {
    const startup = search.tpe?.startupTrials ?? DEFAULT_TPE_STARTUP_TRIALS;
    search = {
      ...search,
      tpe: { ...search.tpe, startupTrials: Math.max(0, startup - record.warmStart.length) },
    };
  }
  return createSampler(search, {
    seed: spec.training.seed,
    goal: spec.objective.goal,
    goals: goalsOf(spec),
  });
}

/**
 * The sampler's history: warm-start results first, numbered 0, -1, ... so they count as earlier.
 * Each trial also carries its value per objective (`values`; multi-objective TPE reads them).
 */
export function historyOf(record: SweepRecord, trials: readonly TrialState[]): Observation[] {
  const objectives = objectivesOf(record.spec);
  return [
    ...record.warmStart.map((w, index): Observation => ({
      trialNumber: -index,
      params: w.params,
      value: w.objectiveValue,
      status: 'completed',
    })),
    ...trials.map((t) => ({
      trialNumber: t.trialNumber,
      params: t.params,
      value: t.objectiveValue,
      status: t.status,
      epochs: t.epochsCompleted,
      values: objectiveValuesOf(objectives, t),
    })),
  ];
}

/** The spec's early-stopping rule with ASHA's/Hyperband's maxEpochs resolved (what workers run). */
function earlyStoppingOf(spec: SweepSpec): TrialPayload['earlyStopping'] {
  const rule = spec.earlyStopping;
  if (rule?.type === 'asha' || rule?.type === 'hyperband') {
    return { ...rule, maxEpochs: rule.maxEpochs ?? maxTrialEpochs(spec) };
  }
  return rule;
}

/**
 * A pbt trial's job trains to its next perturbation epoch, keeps every checkpoint of the interval
 * (the controller may copy any of them for another trial's exploit meanwhile; it applies the
 * sweep's retention itself at the boundaries, see PbtRetention) and carries its lineage for
 * trial.json.
 */
function pbtPayloadOf(
  record: SweepRecord,
  state: TrialState,
  training: TrialPayload['training'],
): Partial<TrialPayload> {
  const scheduler = pbtSchedulerOf(record);
  if (scheduler === undefined) return {};
  return {
    training: { ...training, epochs: scheduler.nextStop(state.epochsCompleted, training.epochs) },
    retention: { trials: 'all', ...record.spec.retention, checkpoints: 'all' },
    pbt: pbtOf(state),
  };
}

/** The BullMQ job data of one trial of the sweep. */
export function payloadOf(record: SweepRecord, state: TrialState): TrialPayload {
  const { model, training } = resolveTrialConfig(record.spec, state.params);
  return trialPayloadSchema.parse({
    sweepId: record.id,
    trialId: state.trialId,
    trialNumber: state.trialNumber,
    dataset: record.spec.dataset,
    model,
    training,
    objective: record.spec.objective,
    params: state.params,
    artifactsBucket: record.artifactsBucket,
    ...(record.spec.earlyStopping !== undefined
      ? { earlyStopping: earlyStoppingOf(record.spec) }
      : {}),
    ...(record.spec.retention !== undefined ? { retention: record.spec.retention } : {}),
    ...pbtPayloadOf(record, state, training),
  });
}
