import {
  isSearchableParam,
  resolveTrialConfig,
  SEARCHABLE_PARAMS,
  SpecError,
  type Distribution,
  type ParamSet,
  type SpecIssue,
  type SweepSpec,
  type TrialState,
} from '@setrain/protocol';

import { type WarmStartTrial } from './sweep-record.js';
import { type SweepStore } from './sweep-store.js';

/** Most warm-start trials a sweep keeps (the first ones, in source-sweep then trial order). */
export const MAX_WARM_START_TRIALS = 1000;
/** Trial statuses whose objective is a result (the same ones that count for a sweep's best). */
const RESULT_STATUSES = new Set<TrialState['status']>(['completed', 'early-stopped']);

/** Whether `value` is a point the distribution can produce (normal: any finite number). */
export function isInDistribution(dist: Distribution, value: number | string): boolean {
  switch (dist.type) {
    case 'constant':
      return dist.value === value;
    case 'values':
      return dist.values.includes(value);
    case 'uniform':
    case 'log_uniform':
      return typeof value === 'number' && value >= dist.min && value <= dist.max;
    case 'int_uniform':
      return (
        typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= dist.min &&
        value <= dist.max &&
        (value - dist.min) % dist.step === 0
      );
    case 'normal':
      return typeof value === 'number' && Number.isFinite(value);
  }
}

/**
 * The values an earlier trial had for each of `parameters` (its sampled value, else its sweep's
 * base config), or undefined when one is unknown or outside the new space. Parameters the earlier
 * sweep searched but the new one does not are not compared.
 */
export function paramsInSpace(
  parameters: Readonly<Record<string, Distribution>>,
  source: Pick<SweepSpec, 'model' | 'training'>,
  params: ParamSet,
): ParamSet | undefined {
  let resolved: ReturnType<typeof resolveTrialConfig>;
  try {
    resolved = resolveTrialConfig(source, params);
  } catch {
    return undefined;
  }
  const out: ParamSet = {};
  for (const [name, dist] of Object.entries(parameters)) {
    if (!isSearchableParam(name)) return undefined;
    const section: Record<string, unknown> =
      SEARCHABLE_PARAMS[name].section === 'model' ? resolved.model : resolved.training;
    const value = section[name];
    if (typeof value !== 'number' && typeof value !== 'string') return undefined;
    if (!isInDistribution(dist, value)) return undefined;
    out[name] = value;
  }
  return out;
}

/**
 * Collects the warm-start trials of a new spec from the sweeps it names. Throws SpecError (400)
 * naming `warmStart.sweeps[i]` for a sweep that does not exist or optimises another objective.
 */
export async function collectWarmStart(
  store: SweepStore,
  spec: SweepSpec,
): Promise<WarmStartTrial[]> {
  if (spec.warmStart === undefined) return [];
  const issues: SpecIssue[] = [];
  const trials: WarmStartTrial[] = [];
  for (const [index, sweepId] of spec.warmStart.sweeps.entries()) {
    const path = `warmStart.sweeps[${index}]`;
    const source = await store.getSweep(sweepId);
    if (source === undefined) {
      issues.push({ path, message: `no sweep ${sweepId}` });
      continue;
    }
    const theirs = source.spec.objective;
    const ours = spec.objective;
    if (theirs.metric !== ours.metric || theirs.goal !== ours.goal) {
      issues.push({
        path,
        message: `sweep ${sweepId} optimises ${theirs.goal} ${theirs.metric}, this sweep ${ours.goal} ${ours.metric}; their objective values are not comparable`,
      });
      continue;
    }
    for (const trial of await store.getTrials(sweepId)) {
      const value = trial.objectiveValue;
      if (!RESULT_STATUSES.has(trial.status) || value === null || !Number.isFinite(value)) continue;
      const params = paramsInSpace(spec.search.parameters, source.spec, trial.params);
      if (params !== undefined)
        trials.push({ trialId: trial.trialId, params, objectiveValue: value });
    }
  }
  if (issues.length > 0) throw new SpecError(issues);
  return trials.slice(0, MAX_WARM_START_TRIALS);
}
