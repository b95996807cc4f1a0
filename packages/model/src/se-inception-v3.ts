import {
  initializers,
  input as symbolicInput,
  layers,
  model as functionalModel,
  type LayersModel,
  type SymbolicTensor,
} from '@tensorflow/tfjs-layers';
import { type Preprocessing, type SeInceptionV3Args } from '@setrain/protocol';

import { buildInceptionV3Backbone, INCEPTION_V3_FEATURE_CHANNELS } from './inception-v3.js';
import { layerSeed } from './layer-seeds.js';
import { releaseConsumedOutputsInTraining } from './training-forward-release.js';
import { validateSeInceptionV3Args } from './validate-args.js';

/** Name of the built model. */
export const SE_INCEPTION_V3_MODEL_NAME = 'se_inception_v3';
/** Name of the classifier layer (the model's output). */
export const PREDICTIONS_LAYER_NAME = 'predictions';

/** Scale and offset of the built-in input preprocessing, applied to raw 0..255 pixels. */
export const PREPROCESSING_RESCALE: Readonly<
  Record<Preprocessing, { scale: number; offset: number }>
> = {
  inception: { scale: 1 / 127.5, offset: -1 },
  unit: { scale: 1 / 255, offset: 0 },
};

/** Units of an SE block's bottleneck: floor(channels / ratio), at least one. */
export function seBottleneckUnits(channels: number, seRatio: number): number {
  return Math.max(1, Math.floor(channels / seRatio));
}

function applyLayer(
  layer: { apply(x: SymbolicTensor | SymbolicTensor[]): unknown },
  x: SymbolicTensor | SymbolicTensor[],
): SymbolicTensor {
  return layer.apply(x) as SymbolicTensor;
}

/**
 * Squeeze-and-excitation on a 4-D feature map: global average pool -> Dense(channels / ratio,
 * relu) -> Dense(channels, sigmoid) -> reshape to (1, 1, channels) -> multiply with the map. Layers
 * are named `se_<where>_squeeze|reduce|expand|reshape|excite`.
 */
function squeezeExcite(
  x: SymbolicTensor,
  where: string,
  channels: number,
  seRatio: number,
  seed: number,
): SymbolicTensor {
  const name = (part: string) => `se_${where}_${part}`;
  const squeezed = applyLayer(layers.globalAveragePooling2d({ name: name('squeeze') }), x);
  const reduced = applyLayer(
    layers.dense({
      name: name('reduce'),
      units: seBottleneckUnits(channels, seRatio),
      activation: 'relu',
      kernelInitializer: initializers.glorotUniform({ seed: layerSeed(seed, name('reduce')) }),
    }),
    squeezed,
  );
  const gates = applyLayer(
    layers.dense({
      name: name('expand'),
      units: channels,
      activation: 'sigmoid',
      kernelInitializer: initializers.glorotUniform({ seed: layerSeed(seed, name('expand')) }),
    }),
    reduced,
  );
  const gateMap = applyLayer(
    layers.reshape({ name: name('reshape'), targetShape: [1, 1, channels] }),
    gates,
  );
  return applyLayer(layers.multiply({ name: name('excite') }), [x, gateMap]);
}

/**
 * Builds SE-Inception v3: raw 0..255 pixels -> built-in preprocessing -> Keras InceptionV3 backbone
 * (include_top=False, Keras layer names) -> SE block(s) -> global average pool -> dropout ->
 * Dense(numClasses, sigmoid|softmax). Throws ModelArgsError on bad arguments. Two builds with the
 * same arguments (seed included) have bit-identical weights.
 */
export function buildSeInceptionV3(args: SeInceptionV3Args): LayersModel {
  const {
    inputSize,
    numClasses,
    seRatio,
    dropout,
    sePlacement,
    headActivation,
    preprocessing,
    seed,
  } = validateSeInceptionV3Args(args);

  const pixels = symbolicInput({
    shape: [inputSize, inputSize, 3],
    name: 'input_1',
    dtype: 'float32',
  });
  const rescale = PREPROCESSING_RESCALE[preprocessing];
  const scaled = applyLayer(
    layers.rescaling({ name: `preprocessing_${preprocessing}`, ...rescale }),
    pixels,
  );

  const everyBlock = sePlacement === 'every-block';
  let features = buildInceptionV3Backbone(scaled, {
    seed,
    afterBlock: everyBlock
      ? (x, block, channels) => squeezeExcite(x, block, channels, seRatio, seed)
      : undefined,
  });
  if (!everyBlock) {
    // The seed: Keras applies no pooling before SE, so the block sees the 4-D map.
    features = squeezeExcite(features, 'top', INCEPTION_V3_FEATURE_CHANNELS, seRatio, seed);
  }

  const pooled = applyLayer(layers.globalAveragePooling2d({ name: 'head_pool' }), features);
  // Seeded, so no mask is drawn from Math.random; a training loop re-seeds it at each step
  // (seedDropoutForStep), or every step would drop the same units.
  const dropped = applyLayer(
    layers.dropout({ name: 'head_dropout', rate: dropout, seed: layerSeed(seed, 'head_dropout') }),
    pooled,
  );
  const predictions = applyLayer(
    layers.dense({
      name: PREDICTIONS_LAYER_NAME,
      units: numClasses,
      activation: headActivation,
      kernelInitializer: initializers.glorotUniform({
        seed: layerSeed(seed, PREDICTIONS_LAYER_NAME),
      }),
    }),
    dropped,
  );
  const model = functionalModel({
    name: SE_INCEPTION_V3_MODEL_NAME,
    inputs: pixels,
    outputs: predictions,
  });
  releaseConsumedOutputsInTraining(model);
  return model;
}
