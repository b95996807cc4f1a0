import assert from 'node:assert/strict';
import { test } from 'node:test';

import { buildSeInceptionV3 } from '@setrain/model';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { loadNativeBackend } from './load-native-backend.js';
import { closeness, nativeSkipReason } from './testing.js';

const SIZE = 75;
const BATCH = 2;
const CLASSES = 3;
/** Plain SGD, so weight differences after one step are gradient differences times the rate. */
const LEARNING_RATE = 0.5;

interface StepResult {
  loss: number;
  weights: Map<string, Float32Array>;
}

/** One training step of the full model on `backend`, from the given initial weights (or the
 * seeded ones); also counts the tensors it left behind. */
async function trainOneStep(
  backend: string,
  initial: Float32Array[] | undefined,
): Promise<{ result: StepResult; initial: Float32Array[]; leaked: number }> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  // Dropout off: its masks are unseeded random numbers.
  const model = buildSeInceptionV3({ inputSize: SIZE, numClasses: CLASSES, seed: 3, dropout: 0 });
  const seeded = model.getWeights();
  const start = initial ?? seeded.map((w) => Float32Array.from(w.dataSync()));
  const startTensors = start.map((values, i) => tf.tensor(values, seeded[i]?.shape));
  model.setWeights(startTensors);
  tf.dispose(startTensors);
  const optimizer = tf.train.sgd(LEARNING_RATE);
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  const x = tf.randomUniform([BATCH, SIZE, SIZE, 3], 0, 255, 'float32', 11);
  const y = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([BATCH, CLASSES], 0, 1, 'float32', 12), 0.5), 'float32'),
  );
  const loss = Number(await model.trainOnBatch(x, y));
  const weights = new Map(
    model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]),
  );
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { result: { loss, weights }, initial: start, leaked: tf.memory().numTensors - before };
}

// The cpu backend is pure JS: this takes one to two minutes on an idle 2-core machine.
test(
  'one SE-Inception v3 training step on native gives the loss and weights of the cpu backend',
  { skip: nativeSkipReason(), timeout: 900_000 },
  async () => {
    await loadNativeBackend({ threads: 2 });
    const cpu = await trainOneStep('cpu', undefined);
    const native = await trainOneStep('native', cpu.initial);
    assert.equal(native.leaked, cpu.leaked, 'the native step leaked tensors the cpu step did not');
    let worst = 0;
    let worstName = '';
    for (const [name, expected] of cpu.result.weights) {
      const actual = native.result.weights.get(name);
      assert.ok(actual !== undefined, `native has no weight ${name}`);
      const c = closeness(actual, expected, 1e-5, 1e-4);
      if (c > worst) [worst, worstName] = [c, name];
    }
    console.log(
      `loss cpu ${cpu.result.loss} native ${native.result.loss}; worst weight ${worstName} closeness ${worst.toFixed(3)}`,
    );
    assert.ok(
      Math.abs(native.result.loss - cpu.result.loss) <= 1e-5 * Math.abs(cpu.result.loss),
      `loss ${native.result.loss} vs cpu ${cpu.result.loss}`,
    );
    assert.ok(
      worst <= 1,
      `weights differ from the cpu backend: worst ${worstName} (closeness ${worst.toFixed(2)})`,
    );
  },
);
