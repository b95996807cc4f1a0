import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

/** The part of a tfjs-layers Layer this module reads and wraps. */
interface WrappableLayer {
  name: string;
  stateful: boolean;
  inboundNodes: { inputTensors: SymbolicTensor[]; outputTensors: SymbolicTensor[] }[];
  apply: (inputs: unknown, kwargs?: Record<string, unknown>) => unknown;
}

/** Consumers still to run per layer output of the forward pass in progress. */
type Pending = WeakMap<tf.Tensor, number>;

/** Models already wrapped, so a second call changes nothing. */
const wrapped = new WeakSet<LayersModel>();

/**
 * Disposes each layer output of a training forward pass once the last layer that reads it has
 * run, as tfjs-layers already does when not training.
 *
 * tfjs-layers' executor keeps every layer output until the forward pass ends when `training` is
 * true (tfjs-layers' execute() skips its recipient counting then), so at the end of a training
 * forward pass every batch-norm output of the network is alive, although the backward pass needs
 * none of them: each op keeps its own clones of what its gradient reads (tfjs-core's
 * saveTensorsForBackwardMode), so disposing a consumed output frees its buffer exactly when no op
 * saved it. PyTorch never holds them (its ReLU runs in place). Together with a Relu gradient that
 * saves the output rather than the input (the native engine registers one) this leaves two
 * activations per convolution block alive, the convolution's and the ReLU's, as in PyTorch.
 *
 * Only the executor's per-layer `apply` is wrapped (trainOnBatch, fit, evaluate and predict go
 * through it; `model.apply` on tensors calls each layer's `call` and is unchanged). A tensor is
 * disposed only when it is the output of a layer of this model, every layer of the model that reads
 * it has run in this pass, it is not a model output, and its layer is not stateful. A model whose
 * layers are shared (applied more than once) or have several outputs is left unwrapped: one `apply`
 * per layer per pass is what the counts assume.
 */
export function releaseConsumedOutputsInTraining(model: LayersModel): void {
  if (wrapped.has(model)) return;
  // tfjs-layers types its layers' graph bookkeeping as public fields of Layer; the cast names the
  // part read here.
  const modelLayers = model.layers as unknown as WrappableLayer[];
  if (modelLayers.some((l) => l.inboundNodes.length !== 1)) return;
  if (modelLayers.some((l) => (l.inboundNodes[0]?.outputTensors.length ?? 0) !== 1)) return;
  wrapped.add(model);

  const readers = new Map<number, number>();
  for (const layer of modelLayers) {
    const inputs = new Set(layer.inboundNodes[0]?.inputTensors.map((s) => s.id));
    for (const id of inputs) readers.set(id, (readers.get(id) ?? 0) + 1);
  }
  const modelOutputs = new Set(model.outputs.map((s) => s.id));
  const pending: Pending = new WeakMap();
  for (const layer of modelLayers) {
    const output = layer.inboundNodes[0]?.outputTensors[0];
    const releasable = output !== undefined && !layer.stateful && !modelOutputs.has(output.id);
    wrapApply(layer, releasable ? (readers.get(output.id) ?? 0) : 0, pending);
  }
}

/**
 * After the layer ran in training: counts it off each input's readers, registers its output with
 * the number of its own, and disposes the inputs every reader has now read.
 */
function wrapApply(layer: WrappableLayer, readerCount: number, pending: Pending): void {
  const apply = layer.apply.bind(layer);
  layer.apply = (inputs, kwargs) => {
    const output = apply(inputs, kwargs);
    if (kwargs?.['training'] !== true) return output;
    const read = new Set((Array.isArray(inputs) ? inputs : [inputs]).filter(isTensor));
    for (const input of read) {
      const left = pending.get(input);
      if (left !== undefined) pending.set(input, left - 1);
    }
    if (readerCount > 0 && isTensor(output) && !(output instanceof tf.Variable)) {
      const left = pending.get(output);
      // An output that is one of the inputs (an identity layer) is released only if that input
      // was a layer output of this pass: never the caller's tensors.
      if (!read.has(output) || left !== undefined) pending.set(output, (left ?? 0) + readerCount);
    }
    for (const input of read) {
      if (pending.get(input) !== 0) continue;
      pending.delete(input);
      if (!input.isDisposed) input.dispose();
    }
    return output;
  };
}

function isTensor(value: unknown): value is tf.Tensor {
  return value instanceof tf.Tensor;
}
