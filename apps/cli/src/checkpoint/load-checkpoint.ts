import { join } from 'node:path';

import { FINAL_FILES, type TrialRecord } from '@setrain/protocol';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Registers the model package's custom layers (scale-free BatchNormalization, preprocessing) so
// model.json deserialises.
import '@setrain/model';

import { CliError, EXIT_CODES } from '../errors.js';
import { CardChecksums } from './card-checksums.js';
import { TRIAL_JSON_FILE } from './download-plan.js';

/** A checkpoint folder as written by `setrain fetch-best`. */
export interface LoadedCheckpoint {
  model: tfl.LayersModel;
  classes: string[];
  /** Side of the square input the model expects. */
  inputSize: number;
  /** sigmoid: independent labels (multi-label); softmax: one label per image. */
  headActivation: 'sigmoid' | 'softmax';
  trial: TrialRecord | undefined;
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

async function readJson<T>(
  files: CardChecksums,
  dir: string,
  name: string,
  what: string,
): Promise<T> {
  const path = join(dir, name);
  const text = (await files.read(name, what)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CliError(
      `${what} ${path} is not valid JSON: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
}

/**
 * trial.json when the folder has one: checked like every file when the model card lists it, read
 * as is (or skipped when unreadable) in a folder without a card.
 */
async function readTrialRecord(
  files: CardChecksums,
  dir: string,
): Promise<TrialRecord | undefined> {
  const read = readJson<TrialRecord>(files, dir, TRIAL_JSON_FILE, 'trial record');
  return files.checked ? read : read.catch(() => undefined);
}

/**
 * Loads model.json + weights, classes.json and (if present) trial.json from a checkpoint folder;
 * in a folder fetch-best wrote, every one of them is checked against model-card.json's sha256.
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const files = await CardChecksums.open(dir);
  const modelJson = await readJson<ModelJson>(files, dir, FINAL_FILES.modelJson, 'model file');
  const classes = await readJson<unknown>(files, dir, FINAL_FILES.classes, 'classes file');
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) {
    throw new CliError(
      `classes file ${join(dir, FINAL_FILES.classes)} must be a JSON array of class names`,
      EXIT_CODES.usage,
    );
  }
  const trial = await readTrialRecord(files, dir);
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  const buffers: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      buffers.push(await files.read(path, 'weights file named by model.json'));
    }
  }
  const weightData = Buffer.concat(buffers);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs,
        weightData: weightData.buffer.slice(
          weightData.byteOffset,
          weightData.byteOffset + weightData.byteLength,
        ),
      }),
    );
  } catch (err) {
    throw new CliError(
      `cannot load the model in ${dir}: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
  const inputShape = model.inputs[0]?.shape;
  const inputSize = inputShape?.[1];
  if (typeof inputSize !== 'number') {
    throw new CliError(`the model in ${dir} has no fixed input size`, EXIT_CODES.usage);
  }
  const outputUnits = model.outputs[0]?.shape.at(-1);
  if (outputUnits !== classes.length) {
    throw new CliError(
      `the model in ${dir} has ${String(outputUnits)} outputs but classes.json names ${classes.length} classes`,
      EXIT_CODES.usage,
    );
  }
  const headActivation = trial?.model.headActivation ?? 'sigmoid';
  return { model, classes: classes, inputSize, headActivation, trial };
}
