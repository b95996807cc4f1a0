import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { engineSkipReason } from '@setrain/testing';
import * as tf from '@tensorflow/tfjs-core';
// The layers package registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';

import { initEngine } from './init-engine.js';
import { registerWasmKernels } from './kernels/register-wasm-kernels.js';
import { createWasmConv2dBackpropFilterConfig } from './kernels/wasm-conv2d-backprop-filter.js';
import { createWasmConv2dBackpropInputConfig } from './kernels/wasm-conv2d-backprop-input.js';

/** Input (non-square, so height/width mix-ups show) and channel counts shared by every case. */
const X_SHAPE: [number, number, number, number] = [2, 10, 9, 3];
const OUT_CHANNELS = 5;
const KERNELS: [number, number][] = [
  [1, 1],
  [3, 3],
  [1, 7],
  [7, 1],
];
const STRIDES = [1, 2] as const;
const PADDINGS = ['same', 'valid'] as const;
/** Engines checked against cpu; webgpu runs on whatever adapter Dawn finds (lavapipe here). */
const ENGINES_UNDER_TEST = ['wasm', 'webgpu'] as const;
/** Allowed difference, relative to the largest reference magnitude (float32 summation order). */
const RELATIVE_TOLERANCE = 1e-4;

interface ConvCase {
  name: string;
  kernel: [number, number];
  stride: number;
  pad: 'same' | 'valid';
}

interface CaseInputs {
  x: Float32Array;
  filter: Float32Array;
  weights: Float32Array;
}

interface Gradients {
  dx: Float32Array;
  dfilter: Float32Array;
}

const CASES: ConvCase[] = KERNELS.flatMap((kernel) =>
  STRIDES.flatMap((stride) =>
    PADDINGS.map((pad) => ({
      name: `${kernel.join('x')} stride ${stride} ${pad}`,
      kernel,
      stride,
      pad,
    })),
  ),
);

/** Seeded inputs as plain arrays, so every backend starts from the same numbers. */
function caseInputs(convCase: ConvCase): CaseInputs {
  return tf.tidy(() => {
    const filterShape = [...convCase.kernel, X_SHAPE[3], OUT_CHANNELS];
    const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 11);
    const filter = tf.randomNormal(filterShape, 0, 1, 'float32', 12);
    const out = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, convCase.stride, convCase.pad);
    const weights = tf.randomNormal(out.shape, 0, 1, 'float32', 13);
    return {
      x: x.dataSync() as Float32Array,
      filter: filter.dataSync() as Float32Array,
      weights: weights.dataSync() as Float32Array,
    };
  });
}

/** dx and dfilter of sum(conv2d(x, filter) * weights): dy is `weights`, not all ones. */
async function convGradients(convCase: ConvCase, caseData: CaseInputs): Promise<Gradients> {
  const filterShape: [number, number, number, number] = [
    ...convCase.kernel,
    X_SHAPE[3],
    OUT_CHANNELS,
  ];
  const x = tf.tensor4d(caseData.x, X_SHAPE);
  const filter = tf.variable(tf.tensor4d(caseData.filter, filterShape));
  const numTensorsBefore = tf.memory().numTensors;
  const loss = (input: tf.Tensor4D): tf.Scalar => {
    const out = tf.conv2d(input, filter, convCase.stride, convCase.pad);
    return tf.sum(tf.mul(out, tf.tensor(caseData.weights, out.shape)));
  };
  const { value, grads } = tf.variableGrads(() => loss(x), [filter]);
  const dfilter = grads[filter.name];
  assert.ok(dfilter !== undefined);
  const dx = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor4D))(x);
  // Async reads: webgpu cannot read synchronously in Node.
  const result = {
    dx: (await dx.data()) as Float32Array,
    dfilter: (await dfilter.data()) as Float32Array,
  };
  tf.dispose([value, dfilter, dx]);
  assert.equal(tf.memory().numTensors, numTensorsBefore, 'no tensors leak');
  tf.dispose([x, filter]);
  return result;
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i] ?? 0));
    worst = Math.max(worst, Math.abs((actual[i] ?? Number.NaN) - (expected[i] ?? 0)));
  }
  assert.ok(
    worst <= RELATIVE_TOLERANCE * scale,
    `${what}: max difference ${worst} exceeds ${RELATIVE_TOLERANCE} x ${scale}`,
  );
}

const inputs = new Map<string, CaseInputs>();
const reference = new Map<string, Gradients>();

before(async () => {
  tf.env().set('IS_TEST', true); // makes the engine check every kernel for leaked data ids
  await initEngine({ backend: 'cpu' });
  for (const convCase of CASES) {
    const caseData = caseInputs(convCase);
    inputs.set(convCase.name, caseData);
    reference.set(convCase.name, await convGradients(convCase, caseData));
  }
});

for (const engine of ENGINES_UNDER_TEST) {
  describe(`${engine} convolution gradients match cpu`, () => {
    let unavailable: string | undefined;
    before(async () => {
      try {
        await initEngine({ backend: engine, webgpuTimeoutMs: 20_000 });
      } catch (error) {
        unavailable = error instanceof Error ? error.message : String(error);
      }
    });
    for (const convCase of CASES) {
      test(convCase.name, async (t) => {
        // Skips where the engine cannot load, fails instead where the run expects it (CI).
        const skip = engineSkipReason(engine, unavailable);
        if (skip !== undefined) {
          t.skip(skip);
          return;
        }
        await initEngine({ backend: engine, webgpuTimeoutMs: 20_000 });
        const got = await convGradients(convCase, inputs.get(convCase.name)!);
        const want = reference.get(convCase.name)!;
        assertClose(got.dx, want.dx, 'dx');
        assertClose(got.dfilter, want.dfilter, 'dfilter');
      });
    }
  });
}

describe('wasm convolution gradient kernels in batch chunks', () => {
  after(() => {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    registerWasmKernels();
  });
  test('gradients computed one image at a time match cpu', async () => {
    await initEngine({ backend: 'wasm' });
    // A limit of one element forces one image per chunk.
    for (const config of [
      createWasmConv2dBackpropFilterConfig(1),
      createWasmConv2dBackpropInputConfig(1),
    ]) {
      tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
    for (const convCase of CASES.filter((c) => c.kernel[0] === 3 || c.kernel[1] === 7)) {
      const got = await convGradients(convCase, inputs.get(convCase.name)!);
      const want = reference.get(convCase.name)!;
      assertClose(got.dx, want.dx, `${convCase.name} dx`);
      assertClose(got.dfilter, want.dfilter, `${convCase.name} dfilter`);
    }
  });
});
