import { rm } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { type LayersModel } from '@tensorflow/tfjs-layers';
import h5wasm from 'h5wasm/node';

/** Options of writeOfficialLayoutWeights. */
export interface OfficialLayoutOptions {
  /** Split layer_names into this many attributes layer_names0.. (as Keras does for long lists). */
  layerNameChunks?: number;
  /** Layers to leave out of the file entirely. */
  omitLayers?: readonly string[];
  /** Tensors (`<layer>/<weight>:0`) to leave out of their layer's group. */
  omitTensors?: readonly string[];
  /** Tensors whose stored shape is replaced (the values are sized to match). */
  reshapeTensors?: Readonly<Record<string, number[]>>;
  /** Only these model layers go into the file (default: the backbone layers of Keras InceptionV3). */
  onlyLayers?: readonly string[];
}

/** The value stored at flat index `i` of tensor number `tensorIndex`: distinct per tensor. */
export function fixtureValue(tensorIndex: number, i: number): number {
  return Math.fround(Math.sin(tensorIndex * 1000.5 + i * 0.37) * (1 + tensorIndex / 100));
}

const KERAS_BACKBONE_LAYER =
  /^(input_1|(conv2d|batch_normalization|activation|max_pooling2d|average_pooling2d|concatenate)_\d+|mixed\d+|mixed9_\d)$/;

/** Whether a layer is one of the 311 layers of Keras InceptionV3(include_top=False). */
export function isKerasInceptionV3Layer(name: string): boolean {
  return KERAS_BACKBONE_LAYER.test(name);
}

/**
 * Writes a weights file in the layout of Keras' official `..._notop.h5`: root attributes
 * layer_names (all 311 layers, weightless ones too), backend and keras_version; one group per layer
 * with weight_names, datasets at `<layer>/<layer>/<weight>:0` filled with fixtureValue(). Returns the
 * file's bytes and the written tensors by `<layer>/<weight>:0`.
 */
export async function writeOfficialLayoutWeights(
  model: LayersModel,
  options: OfficialLayoutOptions = {},
): Promise<{ bytes: Uint8Array; tensors: Map<string, Float32Array> }> {
  await h5wasm.ready;
  const path = join(tmpdir(), `setrain-fixture-${randomUUID()}.h5`);
  const tensors = new Map<string, Float32Array>();
  const layers = model.layers.filter((layer) =>
    options.onlyLayers
      ? options.onlyLayers.includes(layer.name)
      : isKerasInceptionV3Layer(layer.name),
  );
  const layerNames = layers.map((l) => l.name).filter((n) => !options.omitLayers?.includes(n));
  const file = new h5wasm.File(path, 'w');
  try {
    const width = Math.max(...layerNames.map((n) => n.length));
    const chunks = options.layerNameChunks ?? 1;
    if (chunks === 1) {
      file.create_attribute('layer_names', layerNames, [layerNames.length], `S${width}`);
    } else {
      const per = Math.ceil(layerNames.length / chunks);
      for (let c = 0; c < chunks; c++) {
        const part = layerNames.slice(c * per, (c + 1) * per);
        file.create_attribute(`layer_names${c}`, part, [part.length], `S${width}`);
      }
    }
    file.create_attribute('backend', 'tensorflow', [], 'S10');
    file.create_attribute('keras_version', '2.1.5', [], 'S5');
    let tensorIndex = 0;
    for (const layer of layers) {
      if (!layerNames.includes(layer.name)) continue;
      const group = file.create_group(layer.name);
      const weightNames: string[] = [];
      const scope = layer.weights.length > 0 ? group.create_group(layer.name) : undefined;
      for (const variable of layer.weights) {
        const short = variable.originalName.slice(variable.originalName.lastIndexOf('/') + 1);
        const key = `${layer.name}/${short}:0`;
        if (options.omitTensors?.includes(key)) continue;
        const shape = options.reshapeTensors?.[key] ?? (variable.shape as number[]);
        const values = new Float32Array(shape.reduce((n, d) => n * d, 1));
        for (let i = 0; i < values.length; i++) values[i] = fixtureValue(tensorIndex, i);
        tensorIndex++;
        scope?.create_dataset({ name: `${short}:0`, data: values, shape, dtype: '<f' });
        weightNames.push(key);
        tensors.set(key, values);
      }
      const nameWidth = Math.max(1, ...weightNames.map((n) => n.length));
      group.create_attribute('weight_names', weightNames, [weightNames.length], `S${nameWidth}`);
    }
  } finally {
    file.close();
  }
  try {
    return { bytes: new Uint8Array(await readFile(path)), tensors };
  } finally {
    await rm(path, { force: true });
  }
}
