import { METRIC_CATALOGUE, type MetricDefinition, type MetricKey } from './metrics.js';

/** The label names of one catalogued metric, as a union of string literals. */
export type MetricLabels<K extends MetricKey> = (typeof METRIC_CATALOGUE)[K]['labelNames'][number];

/**
 * A catalogued metric as prom-client's Counter, Gauge and Histogram take it (`new Gauge(config)`),
 * registered in `registry`. Plain data, so this package needs no prom-client import.
 */
export interface MetricConfig<K extends MetricKey, R> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly MetricLabels<K>[];
  readonly buckets?: number[];
  readonly registers: R[];
}

/** The one builder of metric configurations from the catalogue (the API's and the worker's). */
export function metricConfig<K extends MetricKey, R>(key: K, registry: R): MetricConfig<K, R> {
  const def: MetricDefinition = METRIC_CATALOGUE[key];
  return {
    name: def.name,
    help: def.help,
    // The catalogue declares labelNames as a tuple of exactly these literals.
    labelNames: def.labelNames as readonly MetricLabels<K>[],
    registers: [registry],
    ...(def.buckets !== undefined ? { buckets: [...def.buckets] } : {}),
  };
}
