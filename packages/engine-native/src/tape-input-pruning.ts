import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';

import { NATIVE_BACKEND_NAME } from './kernels/kernel-utils.js';

/** The fields of tfjs' internal tape node that this module reads and writes (tfjs-core's tape.ts). */
interface TapeNode {
  inputs: NamedTensorMap;
  outputs: Tensor[];
}

type Gradients = (
  f: () => Tensor,
  xs: Tensor[],
  dy?: Tensor,
  allowNoGradients?: boolean,
) => { value: Tensor; grads: Tensor[] };

/** The part of tfjs' Engine this module touches; none of it is in tfjs' public typings. */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  gradients: Gradients;
}

/** Engines whose gradients() is already wrapped (the engine is a process-wide singleton). */
const installed = new WeakSet<object>();

/**
 * tfjs-core's getFilteredNodesXToY, which picks the ops between the variables and the loss before
 * every backward pass, checks each op input that does not depend on a variable once per variable
 * (a loop over xs around a lookup that does not use the loop's index): for SE-Inception v3, about
 * 200 variables times every constant, image-derived and moving-statistics input of the ~1,500 ops,
 * 6 ms of JavaScript per training step on the main thread (5% of a step at 75x75), time in which no
 * kernel runs.
 *
 * While `native` is the active backend, this drops those inputs from each tape node after the
 * forward pass, before tfjs filters the tape, so tfjs' loop finds a variable-dependent input first
 * or no input at all. The result is the same: tfjs keeps only the ops that have an input depending
 * on a variable and prunes the other inputs from them itself; an input that does not depend on a
 * variable only ever marks ops that do not either, which tfjs drops. Only a top-level gradient call
 * prunes (a nested one shares the outer call's tape).
 */
export function installTapeInputPruning(): void {
  // tfjs exposes the engine only as its public Engine type; the tape is internal state.
  const engine = tf.engine() as unknown as EngineInternals;
  if (installed.has(engine)) return;
  installed.add(engine);
  const gradients = engine.gradients;
  engine.gradients = function (this: EngineInternals, f, xs, dy, allowNoGradients) {
    if (tf.getBackend() !== NATIVE_BACKEND_NAME || this.state.gradientDepth !== 0) {
      return gradients.call(this, f, xs, dy, allowNoGradients);
    }
    const forward = (): Tensor => {
      const y = f();
      pruneInputsNotFrom(this.state.activeTape ?? [], xs);
      return y;
    };
    return gradients.call(this, forward, xs, dy, allowNoGradients);
  };
}

/** Keeps in each node only the inputs that depend on one of `xs`, in tape (execution) order. */
export function pruneInputsNotFrom(tape: readonly TapeNode[], xs: readonly Tensor[]): void {
  const fromXs = new Set<number>(xs.map((x) => x.id));
  for (const node of tape) {
    const inputs = node.inputs;
    let kept = 0;
    let dropped = 0;
    for (const name in inputs) {
      if (fromXs.has((inputs[name] as Tensor).id)) kept++;
      else dropped++;
    }
    if (kept > 0) for (const output of node.outputs) fromXs.add(output.id);
    if (dropped === 0) continue;
    const pruned: NamedTensorMap = {};
    if (kept > 0) {
      for (const name in inputs) {
        const input = inputs[name] as Tensor;
        if (fromXs.has(input.id)) pruned[name] = input;
      }
    }
    node.inputs = pruned;
  }
}
