/**
 * Per-epoch metrics of one trial as parallel arrays, the compact form the sweep event stream and
 * the dashboard's curves use. No zod here: the dashboard bundles this file (its schema is in
 * sweep-events.ts).
 */
import { type EpochMetrics } from './trial.js';

/** The metric names an EpochSeries carries, in a fixed order. */
export const EPOCH_SERIES_METRICS = [
  'loss',
  'accuracy',
  'val_loss',
  'val_accuracy',
  'val_auc',
] as const;
export type EpochSeriesMetric = (typeof EPOCH_SERIES_METRICS)[number];

/** Index i of each array = epoch `from + i`; a metric absent in an epoch is null. */
export type EpochSeries = { from: number } & Record<EpochSeriesMetric, (number | null)[]>;

/** Consecutive epochs' metrics (the first is epoch `from`) as an EpochSeries. */
export function toEpochSeries(
  metrics: readonly Pick<EpochMetrics, 'epoch' | EpochSeriesMetric>[],
  from?: number,
): EpochSeries {
  const series: EpochSeries = {
    from: from ?? metrics[0]?.epoch ?? 1,
    loss: [],
    accuracy: [],
    val_loss: [],
    val_accuracy: [],
    val_auc: [],
  };
  for (const m of metrics) {
    for (const name of EPOCH_SERIES_METRICS) series[name].push(m[name] ?? null);
  }
  return series;
}
