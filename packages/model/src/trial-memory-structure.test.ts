// The per-trial memory estimate (packages/protocol trial-memory.ts) counts parameters and layer
// outputs from formulas; these tests build the real model and check the formulas count the same.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { layerOutputElements, seInceptionParameters, type SePlacement } from '@setrain/protocol';

import { countParams } from './count-params.js';
import { buildSeInceptionV3 } from './se-inception-v3.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** Elements of every layer output with a spatial (rank 4) shape, for one image. */
function spatialOutputElements(model: ReturnType<typeof buildSeInceptionV3>): number {
  let total = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape;
    if (!Array.isArray(shape) || shape.length !== 4 || Array.isArray(shape[0])) continue;
    total += (shape as number[]).slice(1).reduce((a, d) => a * d, 1);
  }
  return total;
}

const CASES: { inputSize: number; seRatio: number; sePlacement: SePlacement; classes: number }[] = [
  { inputSize: 75, seRatio: 11, sePlacement: 'top', classes: 10 },
  { inputSize: 107, seRatio: 4, sePlacement: 'every-block', classes: 7 },
  { inputSize: 299, seRatio: 16, sePlacement: 'top', classes: 1000 },
];

for (const { inputSize, seRatio, sePlacement, classes } of CASES) {
  test(`the estimate's parameter and layer-output counts match the model (${inputSize} px, seRatio ${seRatio}, ${sePlacement}, ${classes} classes)`, () => {
    const model = buildSeInceptionV3({ inputSize, numClasses: classes, seRatio, sePlacement });
    try {
      assert.equal(seInceptionParameters(seRatio, sePlacement, classes), countParams(model).total);
      // The 1x1 feature maps of a 75-pixel input's last blocks are rank 4 too; every spatial
      // layer is counted and nothing else is.
      assert.equal(layerOutputElements(inputSize, sePlacement), spatialOutputElements(model));
    } finally {
      model.dispose();
    }
  });
}
