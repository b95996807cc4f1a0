import { toEpochSeries, type EpochSeries, type TrialDetail } from '@setrain/protocol';

/** A trial's epochs as the one-entry series map the curves draw. */
export function toSeriesMap(trial: TrialDetail): Map<string, EpochSeries> {
  return new Map([[trial.trialId, toEpochSeries(trial.epochs)]]);
}
