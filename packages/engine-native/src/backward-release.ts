import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';

import { NATIVE_BACKEND_NAME } from './kernels/kernel-utils.js';

/** A gradient function per input of an op, as tfjs' tape calls them. */
type InputGradients = Record<string, (() => Tensor) | undefined>;

/** The fields of tfjs' internal tape node that this module reads (tfjs-core's engine.ts). */
interface TapeNode {
  inputs: NamedTensorMap;
  outputs: Tensor[];
  /** Clones the op kept for its gradient (saveTensorsForBackwardMode): owned by this node only. */
  saved?: Tensor[];
  gradient?: (dys: (Tensor | null)[]) => InputGradients;
}

/** The part of tfjs' Engine this module touches; none of it is in tfjs' public typings. */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  addTapeNode: (...args: unknown[]) => void;
}

/** Engines whose addTapeNode is already wrapped (the engine is a process-wide singleton). */
const installed = new WeakSet<object>();
/** Every tensor an input-gradient function returned, and those returned more than once: a tensor
 * that became the gradient of two inputs is never released here. */
const returnedOnce = new WeakSet<Tensor>();
const returnedTwice = new WeakSet<Tensor>();

/**
 * tfjs keeps every tensor of a backward pass until the pass ends: each op's saved activations and
 * the gradient of each op's outputs (tfjs-core's backpropagateGradients disposes them all at the
 * end). PyTorch frees both as soon as the op's backward has run, so its peak memory in a training
 * step is about the activations, tfjs' about the activations plus every intermediate gradient.
 *
 * While `native` is the active backend, this releases them at about the same point as PyTorch: once
 * the input gradients of an op have been computed, its saved tensors (clones only its own gradient
 * reads) and the gradients of its outputs are disposed. A tensor one of its input-gradient
 * functions returned is kept (the tape stores it as an input's gradient), so is one that became
 * the gradient of two inputs, and so is an output gradient created before the backward pass began
 * (a `dy` the caller passed to tf.grad). Higher-
 * order gradients (a tape recording the backward pass) release nothing.
 */
export function installBackwardRelease(): void {
  // tfjs exposes the engine only as its public Engine type; the tape is internal state.
  const engine = tf.engine() as unknown as EngineInternals;
  if (installed.has(engine)) return;
  installed.add(engine);
  const addTapeNode = engine.addTapeNode;
  engine.addTapeNode = function (this: EngineInternals, ...args: unknown[]): void {
    addTapeNode.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (node?.gradient !== undefined) node.gradient = releasingGradient(this, node, node.gradient);
  };
}

/** The op whose backward ran last: released when the next op's backward begins. */
let previous:
  { node: TapeNode; dys: readonly (Tensor | null)[]; returned: Set<Tensor> } | undefined;

function releasingGradient(
  engine: EngineInternals,
  node: TapeNode,
  gradient: NonNullable<TapeNode['gradient']>,
): NonNullable<TapeNode['gradient']> {
  return (dys) => {
    // tfjs runs one op's backward at a time (its gradient, then each input's gradient function,
    // only for the inputs on the path from the xs, which this node does not know), so when the
    // next op's begins the previous op's are all done. The last op of a pass is released by the
    // next pass (tfjs' own end-of-pass cleanup has disposed its tensors by then: a no-op).
    if (previous !== undefined) release(previous.node, previous.dys, previous.returned);
    previous = undefined;
    const grads = gradient(dys);
    if (tf.getBackend() !== NATIVE_BACKEND_NAME || engine.state.gradientDepth !== 0) return grads;
    const returned = new Set<Tensor>();
    const wrapped: InputGradients = {};
    for (const [name, inputGradient] of Object.entries(grads)) {
      wrapped[name] =
        inputGradient === undefined
          ? undefined
          : () => {
              const dx = inputGradient();
              if (returnedOnce.has(dx)) returnedTwice.add(dx);
              returnedOnce.add(dx);
              returned.add(dx);
              return dx;
            };
    }
    previous = { node, dys, returned };
    return wrapped;
  };
}

function release(node: TapeNode, dys: readonly (Tensor | null)[], keep: ReadonlySet<Tensor>): void {
  // Tensor ids grow: one above every output of the op was made by the backward pass itself.
  const lastOutputId = Math.max(...node.outputs.map((o) => o.id));
  for (const dy of dys) {
    if (dy !== null && dy.id > lastOutputId && !keep.has(dy) && !returnedTwice.has(dy)) {
      dy.dispose();
    }
  }
  for (const tensor of node.saved ?? []) if (!keep.has(tensor)) tensor.dispose();
}
