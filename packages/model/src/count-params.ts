import { type LayersModel } from '@tensorflow/tfjs-layers';

import { isInceptionV3WeightLayer } from './inception-v3.js';

/** Parameter counts of one part of a model. */
export interface ParamCount {
  total: number;
  trainable: number;
  nonTrainable: number;
}

/** Parameter counts of an SE-Inception v3 model, whole and split into backbone and the rest. */
export interface SeInceptionV3ParamCounts extends ParamCount {
  /** The Keras InceptionV3 layers (conv2d_n, batch_normalization_n). */
  backbone: ParamCount;
  /** SE blocks and the classifier head. */
  head: ParamCount;
  /** Number of weight tensors of the backbone (376 in Keras). */
  backboneWeightTensors: number;
}

function size(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((n, d) => n * (d ?? 0), 1);
}

/** Counts parameters like Keras' model.summary(), split into backbone and head. */
export function countParams(model: LayersModel): SeInceptionV3ParamCounts {
  const backbone: ParamCount = { total: 0, trainable: 0, nonTrainable: 0 };
  const head: ParamCount = { total: 0, trainable: 0, nonTrainable: 0 };
  let backboneWeightTensors = 0;
  for (const layer of model.layers) {
    const part = isInceptionV3WeightLayer(layer.name) ? backbone : head;
    if (part === backbone) backboneWeightTensors += layer.weights.length;
    for (const weight of layer.trainableWeights) part.trainable += size(weight.shape);
    for (const weight of layer.nonTrainableWeights) part.nonTrainable += size(weight.shape);
  }
  backbone.total = backbone.trainable + backbone.nonTrainable;
  head.total = head.trainable + head.nonTrainable;
  return {
    total: backbone.total + head.total,
    trainable: backbone.trainable + head.trainable,
    nonTrainable: backbone.nonTrainable + head.nonTrainable,
    backbone,
    head,
    backboneWeightTensors,
  };
}
