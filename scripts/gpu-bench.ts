// The webgpu engine on whatever GPU this machine has: SE-Inception v3 training-step img/s at each
// size, and a forward-pass check against tfjs' cpu backend. Written to run from the self-contained
// folder `npm run bundle:gpu-bench` makes (dist/gpu-bench/, a bare `node` and no network), on a
// machine that gets a copy of the working tree and nothing else:
//
//   node dist/gpu-bench/gpu-bench.mjs [--sizes 75,139,299] [--batch 8] [--steps 10] [--warmup 2]
//                                     [--check-size 75] [--check-batch 2]
//
// Prints one JSON line per size ({size, batch, imgPerSec from the median step, msPerStep, stepMs,
// adapter}) after the check ({check: 'forward webgpu vs cpu', maxAbsDiff, tolerance, ok}); exits
// 1 when the check fails or webgpu cannot start (the reason is printed). The check runs first: a
// GPU that computes wrong numbers makes its img/s meaningless.
import { parseArgs } from 'node:util';

import { initEngine } from '@setrain/engine';
import { buildSeInceptionV3 } from '@setrain/model';
import * as tf from '@tensorflow/tfjs-core';
// The layers package registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';

import { intOption } from './bench/options.js';
import { median, round } from './bench/stats.js';

/** Sizes the issue asks for: the smallest input, the 139 crop, Inception's native 299. */
const DEFAULT_SIZES = [75, 139, 299] as const;
const CLASSES = 10;

type SeInceptionV3 = ReturnType<typeof buildSeInceptionV3>;
/** Largest |webgpu - cpu| accepted on the sigmoid outputs (float32 kernels in another order). */
const FORWARD_TOLERANCE = 1e-3;

interface Options {
  sizes: number[];
  batch: number;
  steps: number;
  warmup: number;
  checkSize: number;
  checkBatch: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      'check-size': { type: 'string' },
      'check-batch': { type: 'string' },
    },
    strict: true,
  });
  const sizes =
    values.sizes === undefined
      ? [...DEFAULT_SIZES]
      : values.sizes.split(',').map((s) => intOption('sizes', s, 75, 75, 1024));
  return {
    sizes,
    batch: intOption('batch', values.batch, 8, 1, 256),
    steps: intOption('steps', values.steps, 10, 1, 1000),
    warmup: intOption('warmup', values.warmup, 2, 0, 100),
    checkSize: intOption('check-size', values['check-size'], 75, 75, 1024),
    checkBatch: intOption('check-batch', values['check-batch'], 2, 1, 64),
  };
}

/** A tensor's values and shape, read asynchronously (webgpu cannot be read synchronously in Node). */
async function valuesOf(t: tf.Tensor): Promise<{ values: Float32Array; shape: number[] }> {
  return { values: (await t.data()) as Float32Array, shape: t.shape };
}

/** The model forward on `x`; its output's values. */
async function forward(model: SeInceptionV3, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const { values } = await valuesOf(y);
  y.dispose();
  return values;
}

/**
 * The same weights and input forward on webgpu, then on tfjs' cpu backend (values copied over by
 * asynchronous reads: tfjs' own move between backends reads webgpu synchronously, which needs a
 * browser canvas).
 */
async function forwardCheck(o: Options): Promise<{ maxAbsDiff: number; ok: boolean }> {
  const build = (): SeInceptionV3 =>
    buildSeInceptionV3({ inputSize: o.checkSize, numClasses: CLASSES, seed: 1 });
  const onGpu = build();
  const x = tf.randomUniform([o.checkBatch, o.checkSize, o.checkSize, 3], 0, 255, 'float32', 3);
  const gpu = await forward(onGpu, x);
  const weights = await Promise.all(onGpu.getWeights().map(valuesOf));
  const input = await valuesOf(x);
  tf.dispose(x);
  onGpu.dispose();
  await initEngine({ backend: 'cpu' });
  const onCpu = build();
  onCpu.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
  const cpuInput = tf.tensor(input.values, input.shape);
  const cpu = await forward(onCpu, cpuInput);
  tf.dispose(cpuInput);
  onCpu.dispose();
  await initEngine({ backend: 'webgpu' });
  let maxAbsDiff = 0;
  for (let i = 0; i < cpu.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs((cpu[i] ?? NaN) - (gpu[i] ?? NaN)));
  }
  const ok = cpu.length === gpu.length && cpu.length > 0 && maxAbsDiff <= FORWARD_TOLERANCE;
  return { maxAbsDiff: round(maxAbsDiff, 7), ok };
}

/** Median training-step throughput (trainOnBatch reads the loss back: each step is finished). */
async function trainingSteps(size: number, o: Options) {
  const model = buildSeInceptionV3({ inputSize: size, numClasses: CLASSES, seed: 1 });
  const optimizer = tf.train.adam(1e-4);
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  const x = tf.randomUniform([o.batch, size, size, 3], 0, 255, 'float32', 7);
  const y = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([o.batch, CLASSES], 0, 1, 'float32', 8), 0.5), 'float32'),
  );
  for (let i = 0; i < o.warmup; i++) await model.trainOnBatch(x, y);
  const stepMs: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    const start = performance.now();
    await model.trainOnBatch(x, y);
    stepMs.push(performance.now() - start);
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  const ms = median(stepMs);
  return {
    size,
    batch: o.batch,
    steps: o.steps,
    imgPerSec: round((o.batch * 1000) / ms, 4),
    msPerStep: round(ms, 1),
    stepMs: stepMs.map((t) => round(t, 1)),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const engine = await initEngine({ backend: 'webgpu' });
  const adapter = engine.description;
  const check = await forwardCheck(o);
  console.log(
    JSON.stringify({
      check: 'forward webgpu vs cpu',
      size: o.checkSize,
      batch: o.checkBatch,
      ...check,
      tolerance: FORWARD_TOLERANCE,
      adapter,
    }),
  );
  if (!check.ok) {
    process.exitCode = 1;
    return;
  }
  for (const size of o.sizes) {
    console.log(JSON.stringify({ engine: 'webgpu', ...(await trainingSteps(size, o)), adapter }));
  }
}

try {
  await main();
} catch (error) {
  console.error(`gpu-bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
// Dawn may hold handles open; the results are out, so leave now.
process.exit(process.exitCode ?? 0);
