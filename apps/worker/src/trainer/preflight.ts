import * as tf from '@tensorflow/tfjs-core';
import { layers, sequential } from '@tensorflow/tfjs-layers';
import { initEngine } from '@setrain/engine';

import type { PreflightRequest, PreflightResult } from '../trial-ipc.js';
import { engineOptionsOf } from './engine-options.js';
import { errorMessage } from '../worker-error.js';

/** Side of the preflight's images: tiny, but every kernel family a training step uses runs. */
const PREFLIGHT_SIZE = 8;
const PREFLIGHT_BATCH = 2;

/** One training step of a tiny conv net (conv, batch norm, pooling, dense, softmax, SGD). */
async function tinyTrainingStep(): Promise<number> {
  const model = sequential({
    layers: [
      layers.conv2d({
        inputShape: [PREFLIGHT_SIZE, PREFLIGHT_SIZE, 3],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: 'ones',
      }),
      layers.batchNormalization(),
      layers.activation({ activation: 'relu' }),
      layers.globalAveragePooling2d({}),
      layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'ones' }),
    ],
  });
  try {
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
    const x = tf.fill([PREFLIGHT_BATCH, PREFLIGHT_SIZE, PREFLIGHT_SIZE, 3], 0.5);
    const y = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2);
    try {
      const loss = await model.trainOnBatch(x, y);
      return Array.isArray(loss) ? (loss[0] ?? Number.NaN) : loss;
    } finally {
      x.dispose();
      y.dispose();
    }
  } finally {
    model.dispose();
  }
}

/**
 * The worker's engine check before it takes jobs: initialises the engine and runs one tiny training
 * step. Never throws: a failure is an answer naming the engine.
 */
export async function runPreflight(request: PreflightRequest): Promise<PreflightResult> {
  const started = performance.now();
  try {
    const engine = await initEngine(engineOptionsOf(request));
    const loss = await tinyTrainingStep();
    if (!Number.isFinite(loss)) {
      return { ok: false, message: `a training step on ${engine.backend} gave a loss of ${loss}` };
    }
    return {
      ok: true,
      engine: engine.backend,
      description: engine.description,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    return { ok: false, message: errorMessage(error) };
  }
}
