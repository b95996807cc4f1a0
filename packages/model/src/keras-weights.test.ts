import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel } from '@tensorflow/tfjs-layers';
import h5wasm, { type Dataset, type Group } from 'h5wasm/node';

import { KerasWeightsError } from './keras-weights-error.js';
import { exportKerasWeights, importKerasWeights } from './keras-weights.js';
import { buildSeInceptionV3 } from './se-inception-v3.js';
import {
  isKerasInceptionV3Layer,
  writeOfficialLayoutWeights,
} from './testing/keras-weights-fixture.js';

let model: LayersModel;
/** A file in the official layout for `model`, shared by the tests that need a complete one. */
let official: { bytes: Uint8Array; tensors: Map<string, Float32Array> };

before(async () => {
  await tf.setBackend('cpu');
  model = buildSeInceptionV3({ numClasses: 10, inputSize: 75 });
  official = await writeOfficialLayoutWeights(model, { layerNameChunks: 3 });
});

after(() => {
  model.dispose();
});

function bits(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

async function modelTensors(target: LayersModel): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const layer of target.layers) {
    for (const variable of layer.weights) {
      const short = variable.originalName.slice(variable.originalName.lastIndexOf('/') + 1);
      out.set(`${layer.name}/${short}:0`, bits((await variable.read().data()) as Float32Array));
    }
  }
  return out;
}

/** The first n layers with weights: a file with only these fails on whatever the test breaks in
 * them before the import reaches the layers it lacks. Keeps the error tests cheap. */
function firstWeightLayers(n: number): string[] {
  return model.layers
    .filter((layer) => layer.weights.length > 0)
    .slice(0, n)
    .map((layer) => layer.name);
}

function assertKerasWeightsError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KerasWeightsError, String(error));
    assert.equal(error.code, 'KERAS_WEIGHTS_MISMATCH');
    assert.match(error.message, pattern);
    return true;
  };
}

test('imports all 376 backbone tensors from a file in the official notop layout', async () => {
  const { bytes, tensors } = official;
  assert.equal(tensors.size, 376);
  const headBefore = await modelTensors(model);
  const numTensors = tf.memory().numTensors;

  const report = await importKerasWeights(model, bytes);
  assert.equal(tf.memory().numTensors, numTensors);
  assert.equal(report.tensorsLoaded, 376);
  assert.equal(report.layersLoaded.length, 188);
  assert.deepEqual(report.layersSkipped, ['se_top_reduce', 'se_top_expand', 'predictions']);

  const after = await modelTensors(model);
  for (const [key, values] of tensors) {
    assert.ok(after.get(key)?.equals(bits(values)), `${key} differs`);
  }
  for (const key of ['se_top_reduce/kernel:0', 'predictions/bias:0']) {
    assert.ok(after.get(key)?.equals(headBefore.get(key) ?? Buffer.alloc(0)), `${key} changed`);
  }
});

test('imports from a path as well as from bytes', async () => {
  const other = buildSeInceptionV3({ numClasses: 2, inputSize: 75, seed: 9 });
  const { bytes, tensors } = official;
  const path = join(tmpdir(), `setrain-test-${randomUUID()}.h5`);
  await writeFile(path, bytes);
  try {
    const report = await importKerasWeights(other, path);
    assert.equal(report.tensorsLoaded, 376);
    const loaded = await modelTensors(other);
    assert.ok(
      loaded
        .get('conv2d_94/kernel:0')
        ?.equals(bits(tensors.get('conv2d_94/kernel:0') ?? new Float32Array())),
    );
  } finally {
    await rm(path, { force: true });
    other.dispose();
  }
});

test('a tensor missing from the file is an error that names it, and nothing is loaded', async () => {
  const before = await modelTensors(model);
  const { bytes } = await writeOfficialLayoutWeights(model, {
    onlyLayers: ['conv2d_1', 'batch_normalization_1'],
    omitTensors: ['batch_normalization_1/moving_variance:0'],
  });
  await assert.rejects(
    importKerasWeights(model, bytes),
    assertKerasWeightsError(/missing tensor batch_normalization_1\/moving_variance:0/),
  );
  const after = await modelTensors(model);
  assert.ok(
    after.get('conv2d_1/kernel:0')?.equals(before.get('conv2d_1/kernel:0') ?? Buffer.alloc(0)),
  );
});

test('a backbone layer missing from the file is an error that names its tensor', async () => {
  const { bytes } = await writeOfficialLayoutWeights(model, {
    onlyLayers: firstWeightLayers(12),
    omitLayers: ['conv2d_5'],
  });
  await assert.rejects(
    importKerasWeights(model, bytes),
    assertKerasWeightsError(/no weights for layer conv2d_5 \(missing tensor conv2d_5\/kernel:0\)/),
  );
});

test('a shape mismatch is an error that names the tensor and both shapes', async () => {
  const { bytes } = await writeOfficialLayoutWeights(model, {
    onlyLayers: firstWeightLayers(12),
    reshapeTensors: { 'conv2d_5/kernel:0': [3, 3, 80, 191] },
  });
  await assert.rejects(
    importKerasWeights(model, bytes),
    assertKerasWeightsError(
      /shape mismatch for conv2d_5\/kernel:0: file has \[3, 3, 80, 191\], model expects \[3, 3, 80, 192\]/,
    ),
  );
});

test('head layers are required with requireAllLayers; unknown file layers are errors', async () => {
  await assert.rejects(
    importKerasWeights(model, official.bytes, { requireAllLayers: true }),
    assertKerasWeightsError(/no weights for layer se_top_reduce/),
  );
  const everyBlock = buildSeInceptionV3({
    numClasses: 10,
    inputSize: 75,
    sePlacement: 'every-block',
  });
  const exported = await exportKerasWeights(everyBlock);
  everyBlock.dispose();
  await assert.rejects(
    importKerasWeights(model, exported),
    assertKerasWeightsError(/layer se_mixed0_reduce, which the model does not have/),
  );
});

test('a file without layer_names is rejected', async () => {
  await h5wasm.ready;
  const path = join(tmpdir(), `setrain-test-${randomUUID()}.h5`);
  const file = new h5wasm.File(path, 'w');
  file.create_group('conv2d_1');
  file.close();
  try {
    await assert.rejects(
      importKerasWeights(model, path),
      assertKerasWeightsError(/no layer_names/),
    );
  } finally {
    await rm(path, { force: true });
  }
});

test('export writes the Keras layout and re-imports every tensor bit-exactly', async () => {
  // Non-trivial values everywhere, including the head and the BN statistics.
  const source = buildSeInceptionV3({ numClasses: 6, inputSize: 75, seed: 21 });
  tf.tidy(() => {
    for (const [i, variable] of source.weights.entries()) {
      variable.write(tf.randomUniform(variable.shape as number[], 0.5, 2, 'float32', i));
    }
  });
  const bytes = await exportKerasWeights(source);

  await h5wasm.ready;
  const path = join(tmpdir(), `setrain-test-${randomUUID()}.h5`);
  await writeFile(path, bytes);
  const file = new h5wasm.File(path, 'r');
  try {
    const layerNames = file.attrs['layer_names']?.value as string[];
    assert.equal(layerNames.length, 94 * 2 + 3);
    assert.ok(layerNames.slice(0, -3).every(isKerasInceptionV3Layer));
    assert.deepEqual(layerNames.slice(-3), ['se_top_reduce', 'se_top_expand', 'predictions']);
    assert.equal(file.attrs['backend']?.value, 'tensorflow');
    assert.match(file.attrs['keras_version']?.value as string, /^2\./);
    const bn = file.get('batch_normalization_3') as Group;
    assert.deepEqual(bn.attrs['weight_names']?.value, [
      'batch_normalization_3/beta:0',
      'batch_normalization_3/moving_mean:0',
      'batch_normalization_3/moving_variance:0',
    ]);
    const dense = file.get('predictions') as Group;
    assert.deepEqual(dense.attrs['weight_names']?.value, [
      'predictions/kernel:0',
      'predictions/bias:0',
    ]);
    assert.deepEqual((file.get('predictions/predictions/kernel:0') as Dataset).shape, [2048, 6]);
    assert.deepEqual((file.get('conv2d_1/conv2d_1/kernel:0') as Dataset).shape, [3, 3, 3, 32]);
    assert.equal((file.get('conv2d_1/conv2d_1/kernel:0') as Dataset).dtype, '<f');
  } finally {
    file.close();
    await rm(path, { force: true });
  }

  const target = buildSeInceptionV3({ numClasses: 6, inputSize: 75, seed: 22 });
  const report = await importKerasWeights(target, bytes, { requireAllLayers: true });
  assert.equal(report.tensorsLoaded, 376 + 6);
  assert.deepEqual(report.layersSkipped, []);
  const [expected, actual] = await Promise.all([modelTensors(source), modelTensors(target)]);
  assert.equal(actual.size, expected.size);
  for (const [key, values] of expected)
    assert.ok(actual.get(key)?.equals(values), `${key} differs`);
  source.dispose();
  target.dispose();
});
