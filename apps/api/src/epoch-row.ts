import { epochMetricsSchema, type EpochMetrics, type EpochSeriesMetric } from '@setrain/protocol';

/** What an epoch's metrics contribute to the event stream's series. */
export type EpochSeriesRow = Pick<EpochMetrics, 'epoch' | EpochSeriesMetric>;

const REQUIRED_METRICS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;

/** True when `value` has every field a series row needs, with the types the schema gives them. */
function isSeriesRow(value: unknown): value is EpochSeriesRow {
  if (typeof value !== 'object' || value === null) return false;
  const row = value as Readonly<Record<string, unknown>>;
  const epoch = row['epoch'];
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1) return false;
  for (const name of REQUIRED_METRICS) if (typeof row[name] !== 'number') return false;
  return row['val_auc'] === undefined || typeof row['val_auc'] === 'number';
}

/**
 * One stored epoch (a worker's JSON line) as a series row. The fields the series uses are checked
 * by hand: a zod parse of every epoch took ~1 s on the first read of a 1,000-trial x 50-epoch
 * sweep. A row that fails the check is parsed with the schema, so the error names what is wrong.
 */
export function parseEpochRow(raw: string): EpochSeriesRow {
  const value: unknown = JSON.parse(raw);
  return isSeriesRow(value) ? value : epochMetricsSchema.parse(value);
}
