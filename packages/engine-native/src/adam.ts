import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedTensorMap, Tensor, Variable } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { NativeAddon } from './addon.js';
import {
  float32Values,
  makeOutput,
  NATIVE_BACKEND_NAME,
  outputArray,
} from './kernels/kernel-utils.js';
import type { NativeBackend } from './native-backend.js';

/** Custom kernel: one fused Adam step for one variable; outputs the new value, m and v. */
export const ADAM_KERNEL = 'SetrainNativeAdam';

// A type alias, not an interface, so that it fits NamedAttrMap (see NativeKernelImpl).
type AdamAttrs = {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
};

/** One fused Adam step; the outputs may be the inputs themselves (in place). */
function runAdam(
  addon: NativeAddon,
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: readonly [Float32Array, Float32Array, Float32Array],
  a: AdamAttrs,
): void {
  // tfjs multiplies by float32 scalars of (1 - beta); the same constants keep the results equal.
  addon.adam(
    value,
    m,
    v,
    g,
    out[0],
    out[1],
    out[2],
    value.length,
    a.learningRate,
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    a.epsilon,
    a.oneMinusAccBeta1,
    a.oneMinusAccBeta2,
  );
}

export function adamKernel(addon: NativeAddon): KernelConfig {
  return {
    kernelName: ADAM_KERNEL,
    backendName: NATIVE_BACKEND_NAME,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = backend as MathBackendCPU;
      const { value, m, v, g } = inputs;
      const [xv, mv, vv, gv] = [value, m, v, g].map((t) => float32Values(cpu, t));
      if (value === undefined || !xv || !mv || !vv || !gv) {
        throw new Error(`${ADAM_KERNEL}: float32 inputs expected`);
      }
      const n = xv.length;
      const outs = [outputArray(cpu, n), outputArray(cpu, n), outputArray(cpu, n)] as const;
      runAdam(addon, xv, mv, vv, gv, outs, attrs as AdamAttrs);
      return outs.map((o) => makeOutput(cpu, [...value.shape], o));
    },
  };
}

/** The AdamOptimizer fields applyGradients uses (protected in tfjs' typings). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: Variable } | undefined>;
  incrementIterations(): void;
}

type ApplyGradients = tf.AdamOptimizer['applyGradients'];
let installedAdam = false;

/**
 * tfjs' Adam runs 14 full-size elementwise ops per variable, each allocating a new array; on this
 * backend it becomes one fused pass per variable with the same float32 arithmetic. The prototype is
 * patched so every Adam (model.compile('adam'), tf.train.adam) benefits; other backends keep the
 * original method.
 */
export function installFusedAdam(): void {
  if (installedAdam) return;
  const proto = tf.AdamOptimizer.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
  const original: ApplyGradients = proto.applyGradients;
  proto.applyGradients = function applyGradients(this: tf.AdamOptimizer, variableGradients) {
    if (tf.getBackend() !== NATIVE_BACKEND_NAME) {
      original.call(this, variableGradients);
      return;
    }
    // The moments and iteration counter are protected in tfjs's typings; AdamState names the
    // fields the fused pass reads and writes.
    const self = this as unknown as AdamState;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    tf.tidy(() => {
      const oneMinusAccBeta1 = Math.fround(1 - (self.accBeta1.dataSync()[0] ?? 0));
      const oneMinusAccBeta2 = Math.fround(1 - (self.accBeta2.dataSync()[0] ?? 0));
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (value === undefined) return;
        self.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        self.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const gradient: Tensor | undefined = Array.isArray(variableGradients)
          ? variableGradients[i]?.tensor
          : (variableGradients as NamedTensorMap)[name];
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const attrs: AdamAttrs = {
          learningRate: self.learningRate,
          beta1: self.beta1,
          beta2: self.beta2,
          epsilon: self.epsilon,
          oneMinusAccBeta1,
          oneMinusAccBeta2,
        };
        // In place when nothing else can see the arrays change: saves three allocations per
        // variable and keeps the step's memory flat.
        const backend = tf.backend() as NativeBackend;
        const pv = backend.privateFloat32(value);
        const pm = backend.privateFloat32(m);
        const pvv = backend.privateFloat32(v);
        const pg = backend.data.get(gradient.dataId).values;
        if (pv && pm && pvv && pg instanceof Float32Array && pg.length === pv.length) {
          runAdam(backend.addon, pv, pm, pvv, pg, [pv, pm, pvv], attrs);
          return;
        }
        const [newValue, newM, newV] = tf
          .engine()
          .runKernel<Tensor[]>(ADAM_KERNEL, { value, m, v, g: gradient }, { ...attrs });
        m.assign(newM as Tensor);
        v.assign(newV as Tensor);
        value.assign(newValue as Tensor);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  };
  installedAdam = true;
}
