import { buildSeInceptionV3 } from '@setrain/model';
import { Prng } from '@setrain/sweep';
import * as tf from '@tensorflow/tfjs-core';

/** Options of trainOneStep. */
export interface OneStepOptions {
  /** tfjs backend to train on ('cpu', 'native'). */
  backend: string;
  /** Square input side in pixels. */
  inputSize: number;
  /** Output units (multi-label, sigmoid + binary cross-entropy). */
  numClasses: number;
  /** Seed of the model's initialisers (used when `initial` is not given). */
  modelSeed: number;
  /** Raw 0..255 pixels, [batch, inputSize, inputSize, 3] row-major. */
  images: Float32Array;
  /** 0/1 labels, [batch, numClasses] row-major. */
  labels: Float32Array;
  /** Plain SGD rate, so an update is the gradient times the rate. */
  learningRate: number;
  /** Initial values of every weight in model.getWeights() order; default: the seeded ones. */
  initial?: readonly Float32Array[];
}

/** What one step did. */
export interface OneStepResult {
  loss: number;
  /** Initial values of every weight in model.getWeights() order. */
  initial: Float32Array[];
  /** Weight names (originalName) in model.getWeights() order. */
  names: string[];
  /** Whether each weight is trainable, in model.getWeights() order. */
  trainable: boolean[];
  /** Values after the step, in model.getWeights() order. */
  after: Float32Array[];
  /** Tensors the step left behind (tf.memory().numTensors after minus before). */
  leaked: number;
}

/** Uniform numbers in [0, 1) from the project's one seeded generator, independent of tfjs. */
export function seededUniform(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

/**
 * `batch` distinct, structured images (raw 0..255 pixels): per sample a seeded base colour, a
 * linear colour gradient in a seeded direction and sinusoidal stripes of seeded frequency,
 * orientation and phase. Unlike uniform noise, such images give clearly different deep features
 * per sample, so the batch norms' (x - mean) is not a cancellation.
 */
export function structuredImages(batch: number, size: number, seed: number): Float32Array {
  const random = seededUniform(seed);
  const out = new Float32Array(batch * size * size * 3);
  for (let b = 0; b < batch; b++) {
    const base = [0, 1, 2].map(() => 40 + 175 * random());
    const gradient = [0, 1, 2].map(() => 120 * (random() - 0.5));
    const stripe = [0, 1, 2].map(() => 80 * (random() - 0.5));
    const gradientAngle = 2 * Math.PI * random();
    const stripeAngle = 2 * Math.PI * random();
    const frequency = (2 * Math.PI * (1 + 7 * random())) / size;
    const phase = 2 * Math.PI * random();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = x / (size - 1) - 0.5;
        const v = y / (size - 1) - 0.5;
        const along = u * Math.cos(gradientAngle) + v * Math.sin(gradientAngle);
        const wave = Math.sin(
          frequency * (x * Math.cos(stripeAngle) + y * Math.sin(stripeAngle)) + phase,
        );
        for (let c = 0; c < 3; c++) {
          const value = (base[c] ?? 0) + (gradient[c] ?? 0) * 2 * along + (stripe[c] ?? 0) * wave;
          out[((b * size + y) * size + x) * 3 + c] = Math.min(255, Math.max(0, value));
        }
      }
    }
  }
  return out;
}

/** Seeded 0/1 labels, [batch, numClasses], with at least one 0 and one 1 per column when batch > 1
 * (so every output unit gets a gradient pulling both ways). */
export function seededLabels(batch: number, numClasses: number, seed: number): Float32Array {
  const random = seededUniform(seed);
  const out = new Float32Array(batch * numClasses);
  for (let c = 0; c < numClasses; c++) {
    const one = Math.floor(random() * batch);
    const zero = (one + 1 + Math.floor(random() * (batch - 1))) % batch;
    for (let b = 0; b < batch; b++) {
      out[b * numClasses + c] = b === one ? 1 : b === zero ? 0 : random() < 0.5 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Moves every nonzero value by one float32 ulp in a seeded direction: a rounding-sized error in
 * every weight, to measure how much the step amplifies float32 rounding.
 */
export function perturbByOneUlp(values: Float32Array, random: () => number): Float32Array {
  const out = Float32Array.from(values);
  const bits = new Int32Array(out.buffer);
  for (let i = 0; i < out.length; i++) {
    // Adding +-1 to the bits of a nonzero finite float moves its magnitude one ulp up or down.
    if (out[i] !== 0) bits[i] = (bits[i] ?? 0) + (random() < 0.5 ? -1 : 1);
  }
  return out;
}

/** One SGD training step of the full SE-Inception v3 (dropout off) on `options.backend`. */
export async function trainOneStep(options: OneStepOptions): Promise<OneStepResult> {
  const { backend, inputSize, numClasses, images, labels, learningRate } = options;
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  // Dropout off: its masks are unseeded random numbers.
  const model = buildSeInceptionV3({
    inputSize,
    numClasses,
    seed: options.modelSeed,
    dropout: 0,
  });
  const seeded = model.getWeights();
  const initial = options.initial
    ? options.initial.map((w) => Float32Array.from(w))
    : seeded.map((w) => Float32Array.from(w.dataSync()));
  const startTensors = initial.map((values, i) => tf.tensor(values, seeded[i]?.shape));
  model.setWeights(startTensors);
  tf.dispose(startTensors);
  const optimizer = tf.train.sgd(learningRate);
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  const batch = labels.length / numClasses;
  const x = tf.tensor4d(images, [batch, inputSize, inputSize, 3]);
  const y = tf.tensor2d(labels, [batch, numClasses]);
  const loss = Number(await model.trainOnBatch(x, y));
  const names = model.weights.map((w) => w.originalName);
  const trainable = model.weights.map((w) => w.trainable);
  const after = model.weights.map((w) => Float32Array.from(w.read().dataSync()));
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { loss, initial, names, trainable, after, leaked: tf.memory().numTensors - before };
}

/** Relative L2 error of one tensor's update against the reference update. */
export interface TensorUpdateError {
  name: string;
  /** ||candidate update - reference update|| / ||reference update||. */
  error: number;
  /** ||reference update||. */
  referenceNorm: number;
}

/** Per-tensor and whole-model relative errors of one step's updates. */
export interface UpdateComparison {
  /** Per tensor, sorted by error, smallest first. */
  tensors: TensorUpdateError[];
  /** ||all candidate updates - all reference updates|| / ||all reference updates||. */
  whole: number;
  median: number;
  p90: number;
  worst: TensorUpdateError;
}

/** The value at quantile q (0..1) of ascending `sorted` (nearest rank below). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
}

/**
 * Compares two steps' updates (after minus each step's own initial values) over the weights
 * `include` selects (by index in model.getWeights() order).
 */
export function compareUpdates(
  candidate: OneStepResult,
  reference: OneStepResult,
  include: (index: number) => boolean,
): UpdateComparison {
  const tensors: TensorUpdateError[] = [];
  let wholeNum = 0;
  let wholeDen = 0;
  reference.names.forEach((name, i) => {
    if (!include(i)) return;
    const refAfter = reference.after[i];
    const refStart = reference.initial[i];
    const candidateIndex = candidate.names[i] === name ? i : candidate.names.indexOf(name);
    const candAfter = candidate.after[candidateIndex];
    const candStart = candidate.initial[candidateIndex];
    if (
      !refAfter ||
      !refStart ||
      !candAfter ||
      !candStart ||
      candAfter.length !== refAfter.length
    ) {
      throw new Error(`the two steps disagree on weight ${name}`);
    }
    let num = 0;
    let den = 0;
    for (let j = 0; j < refAfter.length; j++) {
      // Differences in float64: the updates are small against the weights.
      const r = (refAfter[j] ?? 0) - (refStart[j] ?? 0);
      const c = (candAfter[j] ?? 0) - (candStart[j] ?? 0);
      num += (c - r) ** 2;
      den += r * r;
    }
    wholeNum += num;
    wholeDen += den;
    const error = den === 0 ? (num === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.sqrt(num / den);
    tensors.push({ name, error, referenceNorm: Math.sqrt(den) });
  });
  tensors.sort((a, b) => a.error - b.error);
  const errors = tensors.map((t) => t.error);
  const worst = tensors[tensors.length - 1] ?? { name: '', error: 0, referenceNorm: 0 };
  return {
    tensors,
    whole: wholeDen === 0 ? 0 : Math.sqrt(wholeNum / wholeDen),
    median: quantile(errors, 0.5),
    p90: quantile(errors, 0.9),
    worst,
  };
}

/** One tensor's update error against the reference and its float32 noise floor. */
export interface TensorAgainstFloor {
  name: string;
  /** Relative L2 error of the candidate's update against the reference's. */
  error: number;
  /** Root mean square, over the noise runs, of their updates' relative L2 error against the
   * unperturbed run of the same engine: what float32 rounding alone does to this tensor. */
  floor: number;
  /** error / (floor + absoluteFloor). */
  ratio: number;
}

/** A group of tensors (trainable weights, or batch statistics) against their noise floor. */
export interface FloorComparison {
  /** Per tensor, sorted by ratio, smallest first. */
  tensors: TensorAgainstFloor[];
  /** Whole-group relative L2 error of the candidate's updates against the reference's. */
  whole: number;
  /** Root mean square over the noise runs of their whole-group error. */
  wholeFloor: number;
  medianError: number;
  p90Error: number;
  worstError: TensorAgainstFloor;
  medianFloor: number;
  p90Floor: number;
  p90Ratio: number;
  worstRatio: TensorAgainstFloor;
}

/** Root mean square of the values. */
function rms(values: readonly number[]): number {
  return Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
}

/**
 * Puts `errors` (candidate engine against the reference engine) next to `noise` (runs of one
 * engine from weights one ulp away, against its unperturbed run), tensor by tensor.
 * `absoluteFloor` keeps ratios finite for tensors on which rounding happens to do nothing.
 */
export function compareAgainstFloor(
  errors: UpdateComparison,
  noise: readonly UpdateComparison[],
  absoluteFloor: number,
): FloorComparison {
  if (noise.length === 0) throw new RangeError('the noise floor needs at least one noise run');
  const noiseByName = noise.map((n) => new Map(n.tensors.map((t) => [t.name, t.error])));
  const tensors = errors.tensors
    .map(({ name, error }) => {
      const floor = rms(noiseByName.map((n) => n.get(name) ?? Number.NaN));
      return { name, error, floor, ratio: error / (floor + absoluteFloor) };
    })
    .sort((a, b) => a.ratio - b.ratio);
  const byError = [...tensors].sort((a, b) => a.error - b.error);
  const floors = tensors.map((t) => t.floor).sort((a, b) => a - b);
  const none = { name: '', error: 0, floor: 0, ratio: 0 };
  return {
    tensors,
    whole: errors.whole,
    wholeFloor: rms(noise.map((n) => n.whole)),
    medianError: errors.median,
    p90Error: errors.p90,
    worstError: byError[byError.length - 1] ?? none,
    medianFloor: quantile(floors, 0.5),
    p90Floor: quantile(floors, 0.9),
    p90Ratio: quantile(
      tensors.map((t) => t.ratio),
      0.9,
    ),
    worstRatio: tensors[tensors.length - 1] ?? none,
  };
}

/** Two lines: the group's update errors against the reference, then its noise floor and the
 * error/floor ratios. */
export function describeAgainstFloor(label: string, c: FloorComparison): string {
  const e = (v: number) => v.toExponential(2);
  return (
    `${label} (${c.tensors.length} tensors), update error vs cpu: whole ${e(c.whole)}, ` +
    `median ${e(c.medianError)}, p90 ${e(c.p90Error)}, worst ${c.worstError.name} ` +
    `${e(c.worstError.error)} (floor ${e(c.worstError.floor)})\n` +
    `${label}, float32 noise floor: whole ${e(c.wholeFloor)}, median ${e(c.medianFloor)}, ` +
    `p90 ${e(c.p90Floor)}; error/floor: whole ${(c.whole / c.wholeFloor).toFixed(2)}, ` +
    `p90 ${c.p90Ratio.toFixed(2)}, worst ${c.worstRatio.name} ${c.worstRatio.ratio.toFixed(2)}`
  );
}
