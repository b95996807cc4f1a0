import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel } from '@tensorflow/tfjs-layers';

import { countParams } from './count-params.js';
import { INCEPTION_V3_BLOCKS } from './inception-v3.js';
import { buildSeInceptionV3, seBottleneckUnits } from './se-inception-v3.js';
import { isKerasInceptionV3Layer } from './testing/keras-weights-fixture.js';

before(async () => {
  await tf.setBackend('cpu');
});

function range(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}_${i + 1}`);
}

test('the backbone is Keras InceptionV3 (include_top=False) layer for layer', () => {
  const model = buildSeInceptionV3({ numClasses: 10 });
  const backbone = model.layers.filter((layer) => isKerasInceptionV3Layer(layer.name));
  assert.equal(backbone.length, 311);
  const expectedNames = [
    'input_1',
    ...range('conv2d', 94),
    ...range('batch_normalization', 94),
    ...range('activation', 94),
    ...range('max_pooling2d', 4),
    ...range('average_pooling2d', 9),
    ...INCEPTION_V3_BLOCKS.map((b) => b.name),
    'mixed9_0',
    'mixed9_1',
    'concatenate_1',
    'concatenate_2',
  ].sort();
  assert.deepEqual(backbone.map((l) => l.name).sort(), expectedNames);

  // Creation order drives Keras' numbering: spot-check layers whose place the .h5 names depend on.
  const kernelShape = (name: string) => model.getLayer(name).getWeights()[0]?.shape;
  assert.deepEqual(kernelShape('conv2d_1'), [3, 3, 3, 32]);
  assert.deepEqual(kernelShape('conv2d_12'), [1, 1, 192, 32]); // mixed0 pool branch
  assert.deepEqual(kernelShape('conv2d_13'), [1, 1, 256, 64]); // mixed1 branch1x1
  assert.deepEqual(kernelShape('conv2d_27'), [3, 3, 288, 384]); // mixed3 branch3x3
  assert.deepEqual(kernelShape('conv2d_86'), [1, 1, 2048, 320]); // mixed10 branch1x1
  assert.deepEqual(kernelShape('conv2d_94'), [1, 1, 2048, 192]); // mixed10 pool branch
  for (const [name, shape] of [
    ['mixed0', [null, 35, 35, 256]],
    ['mixed2', [null, 35, 35, 288]],
    ['mixed3', [null, 17, 17, 768]],
    ['mixed7', [null, 17, 17, 768]],
    ['mixed8', [null, 8, 8, 1280]],
    ['mixed9_1', [null, 8, 8, 768]],
    ['concatenate_2', [null, 8, 8, 768]],
    ['mixed10', [null, 8, 8, 2048]],
  ] as const) {
    assert.deepEqual(model.getLayer(name).outputShape, shape, name);
  }

  for (const layer of backbone) {
    const config = layer.getConfig();
    if (layer.name.startsWith('conv2d_')) assert.equal(config['useBias'], false, layer.name);
    if (layer.name.startsWith('batch_normalization_')) {
      assert.deepEqual(
        { epsilon: config['epsilon'], momentum: config['momentum'], scale: config['scale'] },
        { epsilon: 0.001, momentum: 0.99, scale: false },
      );
      assert.deepEqual(
        layer.weights.map((w) => w.originalName.split('/')[1]),
        ['beta', 'moving_mean', 'moving_variance'],
      );
    }
  }
  assert.equal(model.getLayer('max_pooling2d_1').getConfig()['padding'], 'valid');
  assert.equal(model.getLayer('average_pooling2d_1').getConfig()['padding'], 'same');
});

test('parameter counts equal Keras: 21,802,784 in the backbone, 22,587,364 with the seed head', () => {
  const counts = countParams(buildSeInceptionV3({ numClasses: 10 }));
  assert.deepEqual(counts.backbone, {
    total: 21_802_784,
    trainable: 21_768_352,
    nonTrainable: 34_432,
  });
  assert.equal(counts.backboneWeightTensors, 376);
  assert.equal(counts.total, 22_587_364);
  assert.equal(counts.head.total, 2048 * 186 + 186 + 186 * 2048 + 2048 + 2048 * 10 + 10);
});

test('the top placement has one SE block on the 4-D feature map, then the head', () => {
  const model = buildSeInceptionV3({ numClasses: 4, inputSize: 299, seRatio: 16 });
  const head = model.layers.slice(model.layers.findIndex((l) => l.name === 'mixed10') + 1);
  assert.deepEqual(
    head.map((l) => [l.name, l.getClassName()]),
    [
      ['se_top_squeeze', 'GlobalAveragePooling2D'],
      ['se_top_reduce', 'Dense'],
      ['se_top_expand', 'Dense'],
      ['se_top_reshape', 'Reshape'],
      ['se_top_excite', 'Multiply'],
      ['head_pool', 'GlobalAveragePooling2D'],
      ['head_dropout', 'Dropout'],
      ['predictions', 'Dense'],
    ],
  );
  assert.deepEqual(model.getLayer('se_top_excite').outputShape, [null, 8, 8, 2048]);
  assert.equal(model.getLayer('se_top_reduce').getConfig()['units'], 128);
  assert.equal(model.getLayer('head_dropout').getConfig()['rate'], 0.6);
  // Seeded: no dropout mask comes from Math.random.
  assert.equal(typeof model.getLayer('head_dropout').getConfig()['seed'], 'number');
  assert.equal(model.getLayer('predictions').getConfig()['activation'], 'sigmoid');
});

test('the every-block placement puts an SE block after each of mixed0..mixed10', () => {
  const seRatio = 300;
  const model = buildSeInceptionV3({
    numClasses: 10,
    inputSize: 75,
    sePlacement: 'every-block',
    seRatio,
  });
  assert.equal(model.layers.filter((l) => l.name.startsWith('se_top')).length, 0);
  let seParams = 0;
  for (const { name, channels } of INCEPTION_V3_BLOCKS) {
    const units = seBottleneckUnits(channels, seRatio);
    assert.equal(model.getLayer(`se_${name}_reduce`).getConfig()['units'], units);
    assert.equal(model.getLayer(`se_${name}_expand`).getConfig()['units'], channels);
    // The SE output, not the raw module output, feeds the next module.
    const consumers = model.layers.filter((l) =>
      l.inboundNodes.some((node) => node.inboundLayers.some((inbound) => inbound.name === name)),
    );
    assert.deepEqual(consumers.map((l) => l.name).sort(), [
      `se_${name}_excite`,
      `se_${name}_squeeze`,
    ]);
    seParams += channels * units + units + units * channels + channels;
  }
  assert.equal(seBottleneckUnits(256, seRatio), 1);
  assert.equal(countParams(model).total, 21_802_784 + seParams + 2048 * 10 + 10);
});

test('output shapes at 75, 139 and 299 pixels', () => {
  for (const [inputSize, side] of [
    [75, 1],
    [139, 3],
    [299, 8],
  ] as const) {
    for (const sePlacement of inputSize === 75
      ? (['top', 'every-block'] as const)
      : (['top'] as const)) {
      const model = buildSeInceptionV3({ numClasses: 7, inputSize, sePlacement });
      assert.deepEqual(model.inputs[0]?.shape, [null, inputSize, inputSize, 3]);
      assert.deepEqual(model.getLayer('mixed10').outputShape, [null, side, side, 2048]);
      assert.deepEqual(model.outputs[0]?.shape, [null, 7]);
      model.dispose();
    }
  }
});

test('preprocessing is built in: inception maps 0..255 to -1..1, unit to 0..1', () => {
  for (const [preprocessing, expected] of [
    ['inception', [-1, 0, 1]],
    ['unit', [0, 0.5, 1]],
  ] as const) {
    const model = buildSeInceptionV3({ numClasses: 2, inputSize: 75, preprocessing });
    const layer = model.getLayer(`preprocessing_${preprocessing}`);
    const out = tf.tidy(() => (layer.apply(tf.tensor1d([0, 127.5, 255])) as tf.Tensor).arraySync());
    assert.deepEqual(out, expected);
    model.dispose();
  }
});

async function allWeights(model: LayersModel): Promise<Buffer[]> {
  return Promise.all(
    model.weights.map(async (w) => Buffer.from(((await w.read().data()) as Float32Array).buffer)),
  );
}

test('two builds with the same seed are bit-identical; another seed differs', async () => {
  const [a, b, c] = [1, 1, 2].map((seed) =>
    buildSeInceptionV3({ numClasses: 3, inputSize: 75, seed, sePlacement: 'every-block' }),
  );
  assert.ok(a && b && c);
  const [wa, wb, wc] = await Promise.all([a, b, c].map(allWeights));
  assert.ok(wa && wb && wc);
  assert.equal(wa.length, wb.length);
  assert.ok(wa.every((w, i) => w.equals(wb[i] ?? Buffer.alloc(0))));
  // Kernels differ with the seed (BN and biases start as constants).
  const kernels = a.weights
    .map((w, i) => [w.originalName, i] as const)
    .filter(([n]) => n.endsWith('kernel'));
  assert.ok(kernels.every(([, i]) => !(wa[i] ?? Buffer.alloc(0)).equals(wc[i] ?? Buffer.alloc(0))));
  // Layers of equal shape still get different kernels.
  assert.ok(
    !(wa[kernels[1]?.[1] ?? 0] ?? Buffer.alloc(0)).equals(
      wa[kernels[2]?.[1] ?? 0] ?? Buffer.alloc(0),
    ),
  );
  for (const model of [a, b, c]) model.dispose();
});
