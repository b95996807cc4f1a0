import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs' gradients, as the model's layers do.
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { closeness, engineSkipReason, valuesOn } from '@setrain/testing';

import {
  BATCH_NORM_TRAINING_GRAD_KERNEL as MODEL_BATCH_NORM_TRAINING_GRAD_KERNEL,
  BATCH_NORM_TRAINING_KERNEL as MODEL_BATCH_NORM_TRAINING_KERNEL,
  batchNormTraining,
} from '@setrain/model';

import {
  BATCH_NORM_TRAINING_GRAD_KERNEL,
  BATCH_NORM_TRAINING_KERNEL,
} from './kernels/batch-norm.js';
import { loadNativeBackend } from './load-native-backend.js';
import { nativeAddonUnavailableReason } from './addon.js';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());

/** Seeded inputs so both backends see the same numbers. */
function rand(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32', seed);
}

/** Compares fn's outputs on the cpu and native backends, and checks native leaks no tensors. */
async function expectSameOnBothBackends(
  name: string,
  fn: () => tf.Tensor[],
  atol = 1e-5,
  rtol = 1e-4,
): Promise<void> {
  const expected = await valuesOn('cpu', fn);
  await tf.setBackend('native');
  const before = tf.memory().numTensors;
  const actual = await valuesOn('native', fn);
  assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as Float32Array;
    const c = closeness(a, e, atol, rtol);
    assert.ok(
      c <= 1,
      `${name}: output ${i} differs from the cpu backend (closeness ${c.toFixed(2)})`,
    );
  });
}

/** Value and gradients (w.r.t. every input) of sum(f(inputs) * r), r a fixed random weighting. */
function withGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: () => tf.Tensor[],
  seed = 99,
): () => tf.Tensor[] {
  return () => {
    const xs = inputs();
    const y0 = f(...xs);
    const r = rand(y0.shape, seed);
    const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) =>
      tf.sum(tf.mul(f(...args), r)),
    )(xs);
    return [y0, value, ...grads];
  };
}

/** Stride-1 'same' convolution with bias and relu in one fused op. */
const fusedConvBiasRelu = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor =>
  tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: w as tf.Tensor4D,
    strides: 1,
    pad: 'same',
    bias: b,
    activation: 'relu',
  });

describe('native kernels match the cpu backend', { skip }, () => {
  before(async () => {
    await loadNativeBackend({ threads: 2 });
  });

  const kernels: Array<[number, number]> = [
    [1, 1],
    [3, 3],
    [5, 5],
    [1, 7],
    [7, 1],
    [1, 3],
    [3, 1],
  ];
  for (const [kh, kw] of kernels) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        test(`conv2d ${kh}x${kw} stride ${stride} ${pad}: forward, input and filter gradients`, async () => {
          for (const [cin, cout] of [
            [3, 5],
            [32, 48],
          ] as const) {
            await expectSameOnBothBackends(
              `conv ${kh}x${kw}/${stride}/${pad}/${cin}->${cout}`,
              withGrads(
                (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad),
                () => [rand([2, 9, 8, cin], 1), rand([kh, kw, cin, cout], 2)],
              ),
              1e-4,
              1e-3,
            );
          }
        });
      }
    }
  }

  test('loadNativeBackend lists the kernels it runs natively', async () => {
    const { nativeKernels } = await loadNativeBackend({ threads: 2 });
    for (const name of ['Conv2DBackpropFilter', 'FusedBatchNorm', BATCH_NORM_TRAINING_KERNEL]) {
      assert.ok(nativeKernels.includes(name), `${name} missing from ${nativeKernels.join(', ')}`);
    }
    assert.equal(new Set(nativeKernels).size, nativeKernels.length, 'listed twice');
  });

  // These run as matrix products on the filter's single touching tap (see as_matmul in the addon).
  test('conv2d on a 1x1 map (the last Inception blocks at 75x75)', async () => {
    const cases: Array<[number, number, 1 | 2]> = [
      [3, 3, 1],
      [1, 3, 1],
      [3, 1, 1],
      [5, 5, 1],
      [3, 3, 2],
      [1, 1, 2],
    ];
    for (const [kh, kw, stride] of cases) {
      await expectSameOnBothBackends(
        `conv ${kh}x${kw} stride ${stride} on 1x1`,
        withGrads(
          (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same'),
          () => [rand([3, 1, 1, 40], 3), rand([kh, kw, 40, 24], 4)],
        ),
        1e-4,
        1e-3,
      );
    }
    await expectSameOnBothBackends(
      'fused conv 3x3 with bias and relu on 1x1',
      withGrads(fusedConvBiasRelu, () => [
        rand([4, 1, 1, 32], 5),
        rand([3, 3, 32, 16], 6),
        rand([16], 7),
      ]),
      1e-4,
      1e-3,
    );
  });

  test('pointwise conv2d (1x1, stride 1) as a matrix product, plain and fused', async () => {
    await expectSameOnBothBackends(
      'pointwise conv',
      withGrads(
        (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'),
        () => [rand([2, 5, 6, 48], 8), rand([1, 1, 48, 20], 9)],
      ),
      1e-4,
      1e-3,
    );
    await expectSameOnBothBackends(
      'fused pointwise conv with bias and relu',
      withGrads(fusedConvBiasRelu, () => [
        rand([2, 4, 4, 24], 10),
        rand([1, 1, 24, 12], 11),
        rand([12], 12),
      ]),
      1e-4,
      1e-3,
    );
  });

  test('fused conv2d with bias and relu', async () => {
    await expectSameOnBothBackends(
      'fused conv',
      withGrads(fusedConvBiasRelu, () => [
        rand([2, 6, 6, 8], 5),
        rand([3, 3, 8, 16], 6),
        rand([16], 7),
      ]),
      1e-4,
      1e-3,
    );
  });

  test('matMul with transposes, and fused matMul with bias and activations', async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      await expectSameOnBothBackends(
        `matMul ${String(ta)} ${String(tb)}`,
        withGrads(
          (a, b) => tf.matMul(a, b, ta, tb),
          () => [rand(ta ? [7, 5] : [5, 7], 8), rand(tb ? [9, 7] : [7, 9], 9)],
        ),
      );
    }
    for (const activation of ['linear', 'relu', 'sigmoid'] as const) {
      await expectSameOnBothBackends(`fused matMul ${activation}`, () => [
        tf.fused.matMul({
          a: rand([4, 6], 10),
          b: rand([6, 3], 11),
          bias: rand([3], 12),
          activation,
        }),
      ]);
    }
    await expectSameOnBothBackends(
      'batched matMul',
      withGrads(
        (a, b) => tf.matMul(a, b),
        () => [rand([3, 4, 5], 13), rand([3, 5, 2], 14)],
      ),
    );
    // tfjs has no gradient for a broadcast batch; the forward pass still must match.
    await expectSameOnBothBackends('broadcast batched matMul', () => [
      tf.matMul(rand([3, 4, 5], 13), rand([1, 5, 2], 14)),
    ]);
  });

  test('batch norm in training (moments + batchNorm), with and without scale', async () => {
    const bn = (x: tf.Tensor, offset: tf.Tensor, gamma?: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, offset, gamma ?? tf.onesLike(offset), 1e-3);
    };
    await expectSameOnBothBackends(
      'batch norm with scale',
      withGrads(bn, () => [rand([2, 5, 5, 6], 15, -2, 3), rand([6], 16), rand([6], 17, 0.5, 1.5)]),
      1e-4,
      1e-3,
    );
    await expectSameOnBothBackends(
      'batch norm with a constant scale',
      withGrads(
        (x, offset) => bn(x, offset),
        () => [rand([4, 7, 7, 40], 15, -2, 3), rand([40], 16)],
      ),
      1e-4,
      1e-3,
    );
    await expectSameOnBothBackends('batch norm inference', () => [
      tf.batchNorm(
        rand([2, 3, 3, 4], 18),
        rand([4], 19),
        rand([4], 20, 0.5, 2),
        rand([4], 21),
        undefined,
        1e-3,
      ),
    ]);
  });

  test("the model's fused training batch norm: values, statistics, moving averages, gradients", async () => {
    assert.equal(BATCH_NORM_TRAINING_KERNEL, MODEL_BATCH_NORM_TRAINING_KERNEL);
    assert.equal(BATCH_NORM_TRAINING_GRAD_KERNEL, MODEL_BATCH_NORM_TRAINING_GRAD_KERNEL);
    // On cpu this is tf.moments + tf.batchNorm and tfjs arithmetic; on native, the fused kernels.
    const run = (x: tf.Tensor, offset: tf.Tensor) => {
      const channels = offset.shape[0] ?? 1;
      const moving = { mean: rand([channels], 50, -1, 1), variance: rand([channels], 51, 0.5, 2) };
      return batchNormTraining(x, offset, moving, { epsilon: 1e-3, averagingRate: 0.01 });
    };
    const shapes: number[][] = [
      [4, 7, 7, 40], // the common case
      [8, 1, 1, 16], // 1x1 maps: eight samples per channel
      [8, 17, 17, 64], // large enough for both threads
      [6, 10], // rank 2
      [1, 5], // one row: the moving variance takes the biased variance
    ];
    for (const [i, shape] of shapes.entries()) {
      const channels = shape[shape.length - 1] ?? 1;
      const inputs = () => [rand(shape, 30 + i, -2, 3), rand([channels], 40 + i)];
      await expectSameOnBothBackends(
        `fused batch norm ${JSON.stringify(shape)}`,
        () => {
          const [x, offset] = inputs() as [tf.Tensor, tf.Tensor];
          const { mean, variance, movingMean, movingVariance } = run(x, offset);
          return [
            mean,
            variance,
            movingMean,
            movingVariance,
            ...withGrads((a, b) => run(a, b).y, inputs)(),
          ];
        },
        1e-4,
        1e-3,
      );
    }
    await tf.setBackend('native');
    const profile = await tf.profile(() =>
      tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(run(x, tf.zeros([3])).y))(rand([2, 3], 5))),
    );
    const names = profile.kernels.map((k) => k.name);
    assert.ok(names.includes(BATCH_NORM_TRAINING_KERNEL), `kernels run: ${names.join(', ')}`);
    assert.ok(names.includes(BATCH_NORM_TRAINING_GRAD_KERNEL), `kernels run: ${names.join(', ')}`);
  });

  test('relu, sigmoid and other unary ops with their gradients', async () => {
    const ops: Array<[string, (x: tf.Tensor) => tf.Tensor, number, number]> = [
      ['relu', tf.relu, -1, 1],
      ['relu6', tf.relu6, -2, 8],
      ['sigmoid', tf.sigmoid, -4, 4],
      ['square', tf.square, -2, 2],
      ['sqrt', tf.sqrt, 0.1, 4],
      ['rsqrt', tf.rsqrt, 0.1, 4],
      ['neg', tf.neg, -1, 1],
      ['exp', tf.exp, -2, 2],
      ['log', tf.log, 0.1, 4],
      ['abs', tf.abs, -1, 1],
      ['reciprocal', tf.reciprocal, 0.5, 4],
      ['tanh', tf.tanh, -2, 2],
    ];
    for (const [name, op, lo, hi] of ops) {
      await expectSameOnBothBackends(
        name,
        withGrads(op, () => [rand([3, 4, 5, 70], 22, lo, hi)]),
      );
    }
  });

  test('broadcasting binary ops with their gradients', async () => {
    const shapes: Array<[number[], number[]]> = [
      [
        [2, 3, 4, 5],
        [2, 3, 4, 5],
      ],
      [[2, 3, 4, 5], [5]],
      [[5], [2, 3, 4, 5]],
      [
        [2, 3, 4, 5],
        [1, 1, 1, 1],
      ],
      [
        [2, 3, 4, 5],
        [2, 3, 4, 1],
      ],
      [
        [2, 3, 4, 5],
        [2, 1, 1, 5],
      ],
      [
        [2, 1, 4, 1],
        [1, 3, 1, 5],
      ],
      [[], [3, 2]],
    ];
    const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['div', tf.div],
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
      ['squaredDifference', tf.squaredDifference],
    ];
    // tfjs' maximum/minimum/squaredDifference gradients do not reduce over broadcast axes: forward only there.
    const broadcastGrads = new Set(['add', 'sub', 'mul', 'div']);
    for (const [name, op] of ops) {
      for (const [sa, sb] of shapes) {
        const same = JSON.stringify(sa) === JSON.stringify(sb);
        const inputs = () => [rand(sa, 23), rand(sb, 24, 0.5, 1.5)];
        await expectSameOnBothBackends(
          `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`,
          same || broadcastGrads.has(name)
            ? withGrads(op, inputs)
            : () => {
                const [a, b] = inputs();
                return [op(a as tf.Tensor, b as tf.Tensor)];
              },
        );
      }
    }
    await expectSameOnBothBackends(
      'addN',
      withGrads(
        (a, b, c) => tf.addN([a, b, c]),
        () => [rand([4, 5], 25), rand([4, 5], 26), rand([4, 5], 27)],
      ),
    );
  });

  test('sum, mean and max over axes, with gradients', async () => {
    const axes: Array<number | number[] | undefined> = [
      undefined,
      0,
      3,
      -1,
      [0, 1, 2],
      [1, 2],
      [0, 2],
    ];
    for (const axis of axes) {
      for (const keepDims of [false, true]) {
        await expectSameOnBothBackends(
          `reductions ${JSON.stringify(axis)} keepDims=${String(keepDims)}`,
          withGrads(
            (x) =>
              tf.add(
                tf.add(tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims)),
                tf.max(x, axis, keepDims),
              ),
            () => [rand([3, 4, 5, 6], 28)],
          ),
        );
      }
    }
  });

  test('max and average pooling, same and valid, strides 1 and 2, with gradients', async () => {
    for (const pad of ['same', 'valid'] as const) {
      for (const stride of [1, 2]) {
        await expectSameOnBothBackends(
          `pools ${pad} ${stride}`,
          withGrads(
            (x) =>
              tf.add(
                tf.maxPool(x as tf.Tensor4D, 3, stride, pad),
                tf.avgPool(x as tf.Tensor4D, 3, stride, pad),
              ),
            () => [rand([2, 9, 8, 6], 29)],
          ),
        );
      }
    }
  });

  test('concat, split and slice along the channel axis, with gradients', async () => {
    await expectSameOnBothBackends(
      'concat',
      withGrads(
        (a, b, c) => tf.concat([a, b, c], 3),
        () => [rand([2, 3, 3, 4], 30), rand([2, 3, 3, 1], 31), rand([2, 3, 3, 7], 32)],
      ),
    );
    await expectSameOnBothBackends(
      'concat axis 1',
      withGrads(
        (a, b) => tf.concat([a, b], 1),
        () => [rand([2, 3, 4], 33), rand([2, 5, 4], 34)],
      ),
    );
    await expectSameOnBothBackends('split', () => tf.split(rand([2, 3, 3, 12], 35), [2, 4, 6], 3));
    await expectSameOnBothBackends(
      'slice',
      withGrads(
        (x) => tf.slice(x, [0, 0, 0, 3], [-1, -1, -1, 5]),
        () => [rand([2, 3, 3, 12], 36)],
      ),
    );
  });

  test('an Adam step gives the same weights and moments as tfjs Adam on the cpu backend', async () => {
    const run = async (backend: string): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const w = tf.variable(rand([3, 3, 4, 5], 37), true, `adam_w_${backend}`);
      const b = tf.variable(rand([5], 38), true, `adam_b_${backend}`);
      const optimizer = tf.train.adam(0.01);
      for (let step = 0; step < 3; step++) {
        optimizer.minimize(() =>
          tf.sum(
            tf.square(
              tf.add(
                tf.conv2d(
                  rand([1, 4, 4, 4], 39 + step) as tf.Tensor4D,
                  w as tf.Tensor4D,
                  1,
                  'same',
                ),
                b,
              ),
            ),
          ),
        );
      }
      const weights = await optimizer.getWeights();
      const out = [w, b, ...weights.map((n) => n.tensor)].map((t) =>
        Float32Array.from(t.dataSync()),
      );
      weights[0]?.tensor.dispose(); // the iteration count, a new tensor
      optimizer.dispose();
      w.dispose();
      b.dispose();
      return out;
    };
    // tfjs' AdamOptimizer.dispose() itself leaves one tensor behind; native must not add any.
    let before = tf.memory().numTensors;
    const expected = await run('cpu');
    const cpuLeak = tf.memory().numTensors - before;
    before = tf.memory().numTensors;
    const actual = await run('native');
    assert.equal(tf.memory().numTensors - before, cpuLeak, 'Adam leaked tensors');
    actual.forEach((a, i) => {
      assert.ok(closeness(a, expected[i] as Float32Array) <= 1, `Adam state ${i} differs`);
    });
  });

  test('the in-place Adam step never changes arrays that were read or are shared', async () => {
    await tf.setBackend('native');
    const w = tf.variable(rand([64, 32], 40), true, 'inplace_w');
    const optimizer = tf.train.adam(0.1);
    const step = () => optimizer.minimize(() => tf.sum(tf.square(w)));
    step();
    step(); // the weights' arrays are private now and updated in place
    const snapshot = w.dataSync(); // exposes the current array
    const copy = Float32Array.from(snapshot);
    const shared = tf.clone(w); // shares the array (refCount 2)
    step();
    assert.deepEqual(snapshot, copy, 'an array returned by dataSync() changed');
    assert.deepEqual(shared.dataSync(), copy, 'a clone of the variable changed');
    const before = Float32Array.from(w.dataSync());
    step();
    step();
    assert.notDeepEqual(w.dataSync(), before, 'the variable did not train');
    shared.dispose();
    optimizer.dispose();
    w.dispose();
  });
});
