import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { EpochMetrics, TrialMetrics } from '@setrain/protocol';

/** Untimed predicts before the timed ones (the first compiles kernels and allocates). */
export const LATENCY_WARMUP_RUNS = 2;
/** Timed predicts; their median is the latency. */
export const LATENCY_TIMED_RUNS = 5;

/** The middle value (mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/**
 * Forward latency per image at batch 1 on the current tfjs backend, in milliseconds: the median
 * of LATENCY_TIMED_RUNS predicts of one zero image (each read back, so asynchronous backends are
 * timed to the result) after LATENCY_WARMUP_RUNS untimed ones.
 */
export async function measureLatencyMs(model: LayersModel, inputSize: number): Promise<number> {
  const x = tf.zeros([1, inputSize, inputSize, 3]);
  const times: number[] = [];
  try {
    for (let run = 0; run < LATENCY_WARMUP_RUNS + LATENCY_TIMED_RUNS; run++) {
      const started = performance.now();
      const y = model.predict(x) as tf.Tensor;
      try {
        await y.data();
      } finally {
        y.dispose();
      }
      if (run >= LATENCY_WARMUP_RUNS) times.push(performance.now() - started);
    }
  } finally {
    x.dispose();
  }
  return median(times);
}

/** Mean wall-clock seconds of the epochs (each epoch's durationMs: training and validation). */
export function secondsPerEpoch(epochs: readonly EpochMetrics[]): number {
  if (epochs.length === 0) return 0;
  return epochs.reduce((sum, e) => sum + e.durationMs, 0) / epochs.length / 1000;
}

/** The per-trial metrics of a trained model (objectives.ts names them). */
export async function measureTrialMetrics(
  model: LayersModel,
  inputSize: number,
  epochs: readonly EpochMetrics[],
): Promise<TrialMetrics> {
  return {
    param_count: model.countParams(),
    latency_ms: await measureLatencyMs(model, inputSize),
    seconds_per_epoch: secondsPerEpoch(epochs),
  };
}
