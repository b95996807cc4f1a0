import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import { portableSaveHandler, PORTABLE_BATCH_NORM_CLASS } from './portable-topology.js';
import { recalibrateBatchNorm } from './recalibrate-batch-norm.js';
import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';
import { buildSeInceptionV3, PREDICTIONS_LAYER_NAME } from './se-inception-v3.js';

const STOCK_PREDICT = fileURLToPath(new URL('./testing/stock-tfjs-predict.mjs', import.meta.url));
let dir: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'setrain-portable-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A save handler writing model.json + weights.bin to a folder, in tfjs's layout. */
function folderSaveHandler(
  folder: string,
): tf.io.IOHandler & Pick<Required<tf.io.IOHandler>, 'save'> {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      await writeFile(join(folder, 'weights.bin'), weights);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(join(folder, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Deterministic values in [lo, hi): enough to tell beta and the moving statistics apart. */
function sequence(length: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const u = (Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453) % 1;
    out[i] = lo + Math.abs(u) * (hi - lo);
  }
  return out;
}

test('exported model.json loads in stock @tensorflow/tfjs (separate process) and predicts the same', async () => {
  const model = buildSeInceptionV3({
    inputSize: 75,
    numClasses: 3,
    sePlacement: 'every-block',
    headActivation: 'softmax',
    seed: 7,
  });
  // Real moving statistics (as after training) and a non-zero beta, so a layer that ignored beta or
  // the moving statistics, or applied a gamma, would predict differently.
  const pixels = 75 * 75 * 3;
  const calibration = tf.tensor(
    [0, 1, 2, 3].flatMap((i) => [...sequence(pixels, i, i * 60, i * 60 + 80)]),
    [4, 75, 75, 3],
  );
  await recalibrateBatchNorm(model, [calibration]);
  calibration.dispose();
  let seed = 1;
  for (const layer of model.layers) {
    if (!(layer instanceof ScaleFreeBatchNormalization)) continue;
    const [beta, mean, variance] = layer.getWeights();
    if (beta === undefined || mean === undefined || variance === undefined) continue;
    const newBeta = tf.tensor1d(sequence(beta.size, seed++, -0.1, 0.1));
    // getWeights() returns the variables' own values; only the new tensor is ours.
    layer.setWeights([newBeta, mean, variance]);
    newBeta.dispose();
  }
  // A smaller classifier kernel keeps the softmax out of saturation, so both images' outputs carry
  // information to compare.
  const head = model.getLayer(PREDICTIONS_LAYER_NAME);
  const [kernel, bias] = head.getWeights();
  if (kernel === undefined || bias === undefined) throw new Error('the head has no weights');
  const smallKernel = tf.mul(kernel, 0.01);
  head.setWeights([smallKernel, bias]);
  smallKernel.dispose();
  await model.save(portableSaveHandler(folderSaveHandler(dir)));

  const saved = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: {
      config: { layers: { class_name: string; config: Record<string, unknown> }[] };
    };
  };
  const classes = new Set(saved.modelTopology.config.layers.map((l) => l.class_name));
  assert.ok(!classes.has(ScaleFreeBatchNormalization.className));
  const bn = saved.modelTopology.config.layers.find(
    (l) => l.class_name === PORTABLE_BATCH_NORM_CLASS,
  );
  assert.equal(bn?.config['scale'], false);
  assert.equal(bn?.config['center'], true);

  const shape = [2, 75, 75, 3];
  // A dark and a bright image: noise alone averages out in the global pooling.
  const values = [...sequence(pixels, 99, 0, 60), ...sequence(pixels, 98, 180, 255)];
  const before = tf.memory().numTensors;
  const expected = tf.tidy(() => model.predict(tf.tensor(values, shape)) as tf.Tensor);
  const expectedValues = Array.from(await expected.data());
  expected.dispose();
  assert.equal(tf.memory().numTensors, before, 'prediction leaks no tensors');
  model.dispose();

  await writeFile(join(dir, 'inputs.json'), JSON.stringify({ shape, values }));
  const outPath = join(dir, 'out.json');
  // Plain node, no tsx loader and no setrain import: only stock tfjs is registered there.
  await promisify(execFile)(
    process.execPath,
    [STOCK_PREDICT, dir, join(dir, 'inputs.json'), outPath],
    {
      timeout: 120_000,
    },
  );
  const out = JSON.parse(await readFile(outPath, 'utf8')) as {
    layerClasses: string[];
    shape: number[];
    values: number[];
  };
  assert.ok(out.layerClasses.includes(PORTABLE_BATCH_NORM_CLASS), out.layerClasses.join());
  assert.deepEqual(out.shape, [2, 3]);
  assert.equal(out.values.length, expectedValues.length);
  // Spread between the two images, so identical outputs for any input would fail.
  assert.ok(
    Math.abs((expectedValues[0] ?? 0) - (expectedValues[3] ?? 0)) > 1e-4,
    expectedValues.join(),
  );
  out.values.forEach((value, i) => {
    assert.ok(
      Math.abs(value - (expectedValues[i] ?? NaN)) < 1e-5,
      `output ${i}: ${value} vs ${expectedValues[i]}`,
    );
  });
});
