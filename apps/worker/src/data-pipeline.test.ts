import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  baseSizeFor,
  chunk,
  loadBatch,
  multiHot,
  planEpoch,
  planValidation,
  splitIndices,
} from './data-pipeline.js';
import { Prng } from '@setrain/sweep';

const AUGMENT = { flip: true, crop: true, cropFraction: 0.875 };

test('the split is deterministic, disjoint, complete and leaves one image on each side', () => {
  const a = splitIndices(10, 0.2, 3);
  assert.deepEqual(a, splitIndices(10, 0.2, 3));
  assert.equal(a.validation.length, 2);
  assert.deepEqual(
    [...a.train, ...a.validation].sort((x, y) => x - y),
    [...Array(10).keys()],
  );
  assert.notDeepEqual(a.validation, splitIndices(10, 0.2, 4).validation);
  assert.equal(splitIndices(2, 0.01, 0).validation.length, 1);
  assert.equal(splitIndices(2, 0.99, 0).train.length, 1);
});

test('epoch plans are reproducible from the PRNG and crops stay inside the image', () => {
  const plan = planEpoch([0, 1, 2, 3, 4, 5], Prng.forStream(9, 'train'), AUGMENT, 75);
  assert.deepEqual(plan, planEpoch([0, 1, 2, 3, 4, 5], Prng.forStream(9, 'train'), AUGMENT, 75));
  const slack = baseSizeFor(75, AUGMENT) - 75;
  assert.equal(slack, 11);
  for (const p of plan) assert.ok(p.cropX >= 0 && p.cropX <= slack && p.cropY <= slack);
  assert.ok(planValidation([0, 1], AUGMENT, 75).every((p) => !p.flip && p.cropX === 5));
  assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

test('multiHot marks every label of an image', () => {
  const index = new Map([
    ['a', 0],
    ['b', 1],
    ['c', 2],
  ]);
  assert.deepEqual([...multiHot(['c', 'a'], index)], [1, 0, 1]);
});

test('loadBatch crops and flips decoded pixels and fills the targets', async () => {
  // A 4x4 image whose red channel is the column index: flips are visible in the output.
  const raw = new Uint8Array(4 * 4 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) raw[(y * 4 + x) * 3] = x * 50;
  const images = { size: 4, read: () => Promise.resolve(raw) };
  const samples = [{ uri: 's3://b/a.png', target: Float32Array.of(0, 1) }];
  const plain = await loadBatch(
    images,
    samples,
    [{ index: 0, flip: false, cropX: 1, cropY: 0 }],
    2,
    2,
  );
  const flipped = await loadBatch(
    images,
    samples,
    [{ index: 0, flip: true, cropX: 1, cropY: 0 }],
    2,
    2,
  );
  assert.deepEqual([plain.pixels[0], plain.pixels[3]], [50, 100]);
  assert.deepEqual([flipped.pixels[0], flipped.pixels[3]], [100, 50]);
  assert.deepEqual([...plain.targets], [0, 1]);
});

test('loadBatch matches a pixel-by-pixel crop and flip for every plan of an epoch', async () => {
  // Random pixels, the real sizes (base 86, input 75), crops and flips from the epoch planner.
  const base = baseSizeFor(75, AUGMENT);
  const random = Prng.forStream(4, 'pixels');
  const raws = [0, 1, 2].map(() =>
    Uint8Array.from({ length: base * base * 3 }, () => random.nextInt(256)),
  );
  const images = {
    size: base,
    read: (index: number) => Promise.resolve(raws[index] as Uint8Array),
  };
  const samples = raws.map((_, i) => ({ uri: `s3://b/${i}.png`, target: Float32Array.of(i) }));
  const plans = [
    ...planEpoch([0, 1, 2, 0, 1, 2, 0, 1], Prng.forStream(3, 'train'), AUGMENT, 75),
    ...planValidation([2], AUGMENT, 75),
  ];
  assert.ok(plans.some((p) => p.flip) && plans.some((p) => !p.flip), 'both kinds of rows');
  const batch = await loadBatch(images, samples, plans, 75, 1);
  plans.forEach((plan, i) => {
    const raw = raws[plan.index] as Uint8Array;
    for (let y = 0; y < 75; y++) {
      for (let x = 0; x < 75; x++) {
        const sourceX = (plan.flip ? 74 - x : x) + plan.cropX;
        for (let c = 0; c < 3; c++) {
          const want = raw[((y + plan.cropY) * base + sourceX) * 3 + c];
          const got = batch.pixels[((i * 75 + y) * 75 + x) * 3 + c];
          if (got !== want)
            assert.fail(`plan ${i} pixel (${x}, ${y}) channel ${c}: ${got} != ${want}`);
        }
      }
    }
  });
});
