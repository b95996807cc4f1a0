import type { io } from '@tensorflow/tfjs-core';

import { ScaleFreeBatchNormalization } from './scale-free-batch-normalization.js';

/** The stock tfjs-layers / Keras class a ScaleFreeBatchNormalization is exported as. */
export const PORTABLE_BATCH_NORM_CLASS = 'BatchNormalization';

type JsonObject = { [key: string]: unknown };

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rewrites one serialised layer: a ScaleFreeBatchNormalization becomes Keras' BatchNormalization with
 * `scale: false` and `center: true`. Inference needs only beta and the moving statistics, which keep
 * their names (`<layer>/beta`, `/moving_mean`, `/moving_variance`), so the weights load unchanged.
 */
function portableLayer(layer: unknown): unknown {
  if (!isJsonObject(layer) || layer['class_name'] !== ScaleFreeBatchNormalization.className) {
    return layer;
  }
  const config = isJsonObject(layer['config']) ? layer['config'] : {};
  return {
    ...layer,
    class_name: PORTABLE_BATCH_NORM_CLASS,
    config: { ...config, center: true, scale: false },
  };
}

/**
 * A copy of a LayersModel topology (model.toJSON(null, false), or `modelTopology` of saved
 * artifacts) that stock `@tensorflow/tfjs` and Keras load with no setrain class registered.
 * Training such a copy in tfjs hits tensorflow/tfjs#2868; it is for inference and export.
 */
export function toPortableTopology(topology: object): object {
  if (!isJsonObject(topology)) return topology;
  const config = topology['config'];
  if (!isJsonObject(config) || !Array.isArray(config['layers'])) return topology;
  // Layer configs are plain JSON, so a shallow copy of what changes is enough.
  return { ...topology, config: { ...config, layers: config['layers'].map(portableLayer) } };
}

/**
 * Wraps a save handler so that the topology it writes is portable (see toPortableTopology):
 * `model.save(portableSaveHandler(handler))`. Everything else passes through unchanged.
 */
export function portableSaveHandler<H extends io.IOHandler & Required<Pick<io.IOHandler, 'save'>>>(
  handler: H,
): H {
  return {
    ...handler,
    save: (artifacts: io.ModelArtifacts) =>
      handler.save(
        artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer
          ? artifacts
          : { ...artifacts, modelTopology: toPortableTopology(artifacts.modelTopology) },
      ),
  };
}
