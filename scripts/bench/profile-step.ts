// Where one SE-Inception v3 training step spends its time on one engine: tfjs' per-kernel profile
// (tf.profile) of a step after two warm-up steps, with the step's wall and CPU time and the bytes
// its kernels output. Kernel times include the allocation of their outputs; fused ops show up both
// as the op (fusedConv2d__op) and as its kernel (FusedConv2D).
//
//   node --conditions=source --import tsx scripts/bench/profile-step.ts [--engine native]
//        [--size 75] [--batch 8] [--threads 2] [--top 25] [--kernel Conv2DBackpropFilter]
//
// --kernel breaks one kernel's time down by input shapes.
import { parseArgs } from 'node:util';

import { BACKEND_NAMES, initEngine, type BackendName } from '@setrain/engine';
import { buildSeInceptionV3 } from '@setrain/model';
import * as tf from '@tensorflow/tfjs-core';
// The layers package registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';

const CLASSES = 10;
const WARMUP_STEPS = 2;

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'native' },
    size: { type: 'string', default: '75' },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string' },
    top: { type: 'string', default: '25' },
    kernel: { type: 'string' },
  },
  strict: true,
});
if (!(BACKEND_NAMES as readonly string[]).includes(values.engine)) {
  throw new Error(`unknown engine ${values.engine}; allowed: ${BACKEND_NAMES.join(', ')}`);
}
const engine = values.engine as BackendName;
const size = Number(values.size);
const batch = Number(values.batch);

const info = await initEngine(
  values.threads === undefined
    ? { backend: engine }
    : { backend: engine, threads: Number(values.threads) },
);
const model = buildSeInceptionV3({ inputSize: size, numClasses: CLASSES, seed: 1 });
model.compile({ optimizer: tf.train.adam(1e-4), loss: 'binaryCrossentropy' });
const x = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', 7);
const y = tf.tidy(() =>
  tf.cast(tf.greater(tf.randomUniform([batch, CLASSES], 0, 1, 'float32', 8), 0.5), 'float32'),
);
for (let i = 0; i < WARMUP_STEPS; i++) await model.trainOnBatch(x, y);

const cpuBefore = process.cpuUsage();
const start = performance.now();
await model.trainOnBatch(x, y);
const stepWallMs = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);

const profile = await tf.profile(async () => {
  await model.trainOnBatch(x, y);
});
const byKernel = new Map<string, { ms: number; calls: number; outputBytes: number }>();
let kernelMs = 0;
for (const k of profile.kernels) {
  const ms = Number(k.kernelTimeMs);
  const outputBytes = k.outputShapes.reduce(
    (sum, shape) => sum + 4 * (shape ?? []).reduce((a, b) => a * b, 1),
    0,
  );
  kernelMs += ms;
  const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0, outputBytes: 0 };
  entry.ms += ms;
  entry.calls += 1;
  entry.outputBytes += outputBytes;
  byKernel.set(k.name, entry);
}
console.log(
  JSON.stringify({
    engine: info.description,
    size,
    batch,
    stepWallMs: Math.round(stepWallMs),
    stepCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    kernelMs: Math.round(kernelMs),
    kernelCalls: profile.kernels.length,
  }),
);
const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
for (const [name, { ms, calls, outputBytes }] of rows.slice(0, Number(values.top))) {
  console.log(
    `${name.padEnd(30)} ${ms.toFixed(1).padStart(8)} ms ${String(calls).padStart(5)} calls ` +
      `${((100 * ms) / kernelMs).toFixed(1).padStart(5)}% ${(outputBytes / 2 ** 20).toFixed(0).padStart(5)} MiB out`,
  );
}
if (values.kernel !== undefined) {
  const shapes = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    if (k.name !== values.kernel) continue;
    const key = JSON.stringify(k.inputShapes);
    const entry = shapes.get(key) ?? { ms: 0, calls: 0 };
    entry.ms += Number(k.kernelTimeMs);
    entry.calls += 1;
    shapes.set(key, entry);
  }
  for (const [key, { ms, calls }] of [...shapes.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${ms.toFixed(2).padStart(8)} ms ${String(calls).padStart(4)} calls ${key}`);
  }
}
tf.dispose([x, y]);
model.dispose();
