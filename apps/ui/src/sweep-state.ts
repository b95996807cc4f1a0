/**
 * The dashboard's view of one sweep, built from the event stream: the sweep summary, every trial and
 * every trial's per-epoch series. Pure: applying an event returns a new state that shares every
 * unchanged trial object (so unchanged table rows are not re-rendered).
 */
import {
  EPOCH_SERIES_METRICS,
  type EpochSeries,
  type SweepEvent,
  type SweepSummary,
  type TrialSummary,
} from '@setrain/protocol';

export interface SweepState {
  readonly sweep: SweepSummary;
  readonly trials: ReadonlyMap<string, TrialSummary>;
  readonly epochs: ReadonlyMap<string, EpochSeries>;
  /** Bumped on every applied event (memo keys). */
  readonly version: number;
}

function append(base: EpochSeries | undefined, more: EpochSeries): EpochSeries {
  if (base === undefined || more.from === 1) return more;
  const have = base.from - 1 + base.loss.length;
  // Epochs already held (a replayed event) are skipped; a gap cannot be filled, so keep what we have.
  const skip = have - (more.from - 1);
  if (skip < 0) return base;
  const next = { ...base };
  for (const name of EPOCH_SERIES_METRICS) next[name] = [...base[name], ...more[name].slice(skip)];
  return next;
}

export function applySweepEvent(state: SweepState | undefined, event: SweepEvent): SweepState {
  if (event.type === 'snapshot' || state === undefined) {
    return {
      sweep: event.sweep,
      trials: new Map(event.trials.map((t) => [t.trialId, t])),
      epochs: new Map(Object.entries(event.epochs)),
      version: (state?.version ?? 0) + 1,
    };
  }
  const trials = new Map(state.trials);
  for (const t of event.trials) trials.set(t.trialId, t);
  const epochs = new Map(state.epochs);
  for (const [id, series] of Object.entries(event.epochs)) {
    epochs.set(id, append(epochs.get(id), series));
  }
  return { sweep: event.sweep, trials, epochs, version: state.version + 1 };
}

/** The value of `metric` at each epoch of a series (index 0 = epoch `from`). */
export function metricSeries(series: EpochSeries | undefined, metric: string): (number | null)[] {
  const name = EPOCH_SERIES_METRICS.find((m) => m === metric);
  return series === undefined || name === undefined ? [] : series[name];
}
