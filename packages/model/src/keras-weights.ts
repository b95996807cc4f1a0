import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel, type LayerVariable } from '@tensorflow/tfjs-layers';
import type h5wasmModule from 'h5wasm/node';
import { type File as H5File, type Group as H5Group } from 'h5wasm/node';

import { isInceptionV3WeightLayer } from './inception-v3.js';
import { KerasWeightsError } from './keras-weights-error.js';

/** Keras' HDF5 object header limit: attributes longer than this are split into name0, name1, ... */
const HDF5_ATTRIBUTE_CHUNK_BYTES = 64_512;
/** The Keras version written into exported files; Keras only converts weights from version 1. */
export const EXPORTED_KERAS_VERSION = '2.15.0';

/** Options of importKerasWeights. */
export interface ImportKerasWeightsOptions {
  /**
   * Whether every model layer with weights must be in the file. Default false: only the InceptionV3
   * backbone layers must be there (the official notop file has no SE blocks or head); the others keep
   * their initial weights and are reported as skipped.
   */
  requireAllLayers?: boolean;
}

/** What importKerasWeights loaded. */
export interface KerasWeightsImportReport {
  /** Weight tensors written into the model. */
  tensorsLoaded: number;
  /** Model layers whose weights came from the file. */
  layersLoaded: string[];
  /** Model layers with weights that the file does not have (they keep their weights). */
  layersSkipped: string[];
}

/** One weight tensor of a Keras file: its short name (kernel, beta, ...), shape and values. */
interface KerasTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

type H5Wasm = typeof h5wasmModule;
let h5Loading: Promise<H5Wasm> | undefined;

/** Loads the HDF5 wasm module on first use, so importing this package stays cheap. */
function loadH5(): Promise<H5Wasm> {
  h5Loading ??= import('h5wasm/node').then(async ({ default: h5wasm }) => {
    await h5wasm.ready;
    return h5wasm;
  });
  return h5Loading;
}

/** Keras' short weight name: `conv2d_1/kernel:0` -> `kernel`. */
function shortWeightName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/:\d+$/, '').replace(/_\d+$/, '');
}

function attributeStrings(holder: H5Group, name: string): string[] | undefined {
  const attrs = holder.attrs;
  const read = (key: string): string[] => {
    const value = attrs[key]?.value;
    if (value == null) return [];
    const items: unknown[] = Array.isArray(value) ? value : [value];
    return items.map((item) =>
      item instanceof Uint8Array ? new TextDecoder().decode(item) : String(item),
    );
  };
  if (name in attrs) return read(name);
  if (!(`${name}0` in attrs)) return undefined;
  const values: string[] = [];
  for (let chunk = 0; `${name}${chunk}` in attrs; chunk++) values.push(...read(`${name}${chunk}`));
  return values;
}

/** Writes a string-array attribute as fixed-length byte strings, split like Keras when long. */
function writeStringsAttribute(holder: H5Group, name: string, values: string[]): void {
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  const perChunk = Math.max(1, Math.floor(HDF5_ATTRIBUTE_CHUNK_BYTES / width));
  if (values.length <= perChunk) {
    holder.create_attribute(name, values, [values.length], `S${width}`);
    return;
  }
  for (let chunk = 0; chunk * perChunk < values.length; chunk++) {
    const part = values.slice(chunk * perChunk, (chunk + 1) * perChunk);
    holder.create_attribute(`${name}${chunk}`, part, [part.length], `S${width}`);
  }
}

function toFloat32(value: unknown, where: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  if (typeof value === 'number') return Float32Array.of(value);
  throw new KerasWeightsError(`${where} is not a float32 or float64 dataset`);
}

/** Reads every layer's weights from an open Keras weights file, in the file's order. */
function readKerasLayers(h5wasm: H5Wasm, file: H5File): Map<string, KerasTensor[]> {
  const layerNames = attributeStrings(file, 'layer_names');
  if (layerNames == null) {
    throw new KerasWeightsError(
      'not a Keras weights file: the root has no layer_names attribute (a Keras 3 .weights.h5 or a full-model file?)',
    );
  }
  const layersByName = new Map<string, KerasTensor[]>();
  for (const layerName of layerNames) {
    const group = file.get(layerName);
    if (!(group instanceof h5wasm.Group)) {
      throw new KerasWeightsError(
        `layer_names lists ${layerName}, but the file has no group of that name`,
      );
    }
    const weightNames = attributeStrings(group, 'weight_names') ?? [];
    const tensors = weightNames.map((weightName) => {
      const dataset = group.get(weightName);
      if (!(dataset instanceof h5wasm.Dataset)) {
        throw new KerasWeightsError(
          `${layerName}/${weightName} is listed in weight_names but missing`,
        );
      }
      return {
        name: shortWeightName(weightName),
        shape: dataset.shape ?? [],
        values: toFloat32(dataset.value, `${layerName}/${weightName}`),
      };
    });
    if (tensors.length > 0) layersByName.set(layerName, tensors);
  }
  return layersByName;
}

async function withFileOnDisk<T>(h5: Uint8Array | string, use: (path: string) => T): Promise<T> {
  if (typeof h5 === 'string') return use(h5);
  // The node build of h5wasm opens host paths directly; bytes go through a private temp file.
  const path = join(tmpdir(), `setrain-weights-${randomUUID()}.h5`);
  await writeFile(path, h5);
  try {
    return use(path);
  } finally {
    await rm(path, { force: true });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Loads weights from a Keras (tf.keras 2 / legacy h5) weights file, e.g. the official
 * `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, into the model by layer name. Every
 * tensor is checked first and nothing is written unless all fit: a tensor missing on either side or
 * of another shape throws a KerasWeightsError that names it.
 */
export async function importKerasWeights(
  model: LayersModel,
  h5: Uint8Array | string,
  options: ImportKerasWeightsOptions = {},
): Promise<KerasWeightsImportReport> {
  const h5lib = await loadH5();
  const fileLayers = await withFileOnDisk(h5, (path) => {
    const file = new h5lib.File(path, 'r');
    try {
      return readKerasLayers(h5lib, file);
    } finally {
      file.close();
    }
  });

  const assignments: { variable: LayerVariable; tensor: KerasTensor }[] = [];
  const layersLoaded: string[] = [];
  const layersSkipped: string[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const tensors = fileLayers.get(layer.name);
    if (tensors == null) {
      if (options.requireAllLayers === true || isInceptionV3WeightLayer(layer.name)) {
        const first = layer.weights[0];
        throw new KerasWeightsError(
          `the file has no weights for layer ${layer.name} (missing tensor ${layer.name}/${shortWeightName(first?.originalName ?? 'kernel')}:0)`,
        );
      }
      layersSkipped.push(layer.name);
      continue;
    }
    fileLayers.delete(layer.name);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const variable of layer.weights) {
      const name = shortWeightName(variable.originalName);
      const tensor = byName.get(name);
      const tensorPath = `${layer.name}/${name}:0`;
      if (tensor == null) {
        throw new KerasWeightsError(`missing tensor ${tensorPath} in the file`);
      }
      if (!sameShape(tensor.shape, variable.shape as number[])) {
        throw new KerasWeightsError(
          `shape mismatch for ${tensorPath}: file has [${tensor.shape.join(', ')}], model expects [${variable.shape.join(', ')}]`,
        );
      }
      byName.delete(name);
      assignments.push({ variable, tensor });
    }
    const extra = [...byName.keys()][0];
    if (extra != null) {
      throw new KerasWeightsError(
        `the file has tensor ${layer.name}/${extra}:0 that the model's layer lacks`,
      );
    }
    layersLoaded.push(layer.name);
  }
  const unknownLayer = [...fileLayers.keys()][0];
  if (unknownLayer != null) {
    throw new KerasWeightsError(
      `the file has weights for layer ${unknownLayer}, which the model does not have`,
    );
  }

  for (const { variable, tensor } of assignments) {
    tf.tidy(() => {
      variable.write(tf.tensor(tensor.values, tensor.shape, 'float32'));
    });
  }
  return { tensorsLoaded: assignments.length, layersLoaded, layersSkipped };
}

/**
 * Writes all of the model's weights (backbone, SE blocks, head) as a Keras weights .h5 file, the
 * layout `model.load_weights()` of tf.keras 2 reads: root attributes layer_names, backend and
 * keras_version; one group per layer with weights, its weight_names in Keras order (BN: beta,
 * moving_mean, moving_variance) and datasets `<layer>/<layer>/<weight>:0` in Keras layouts (conv
 * [kh, kw, in, out], dense [in, out]). Layers are in the model's topological order, so a Keras model
 * built the same way loads them by order or by name.
 */
export async function exportKerasWeights(model: LayersModel): Promise<Uint8Array> {
  const h5lib = await loadH5();
  const weightedLayers = model.layers.filter((layer) => layer.weights.length > 0);
  const layerValues = await Promise.all(
    weightedLayers.map(async (layer) => ({
      layer,
      weights: await Promise.all(
        layer.weights.map(async (variable) => ({
          name: `${layer.name}/${shortWeightName(variable.originalName)}:0`,
          shape: variable.shape as number[],
          values: (await variable.read().data()) as Float32Array,
        })),
      ),
    })),
  );

  const path = join(tmpdir(), `setrain-weights-${randomUUID()}.h5`);
  try {
    const file = new h5lib.File(path, 'w');
    try {
      writeStringsAttribute(
        file,
        'layer_names',
        weightedLayers.map((layer) => layer.name),
      );
      file.create_attribute('backend', 'tensorflow', [], 'S10');
      file.create_attribute(
        'keras_version',
        EXPORTED_KERAS_VERSION,
        [],
        `S${EXPORTED_KERAS_VERSION.length}`,
      );
      for (const { layer, weights } of layerValues) {
        const group = file.create_group(layer.name);
        writeStringsAttribute(
          group,
          'weight_names',
          weights.map((w) => w.name),
        );
        const scope = group.create_group(layer.name);
        for (const weight of weights) {
          scope.create_dataset({
            name: weight.name.slice(layer.name.length + 1),
            data: weight.values,
            shape: weight.shape,
            dtype: '<f',
          });
        }
      }
    } finally {
      file.close();
    }
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(path, { force: true });
  }
}
