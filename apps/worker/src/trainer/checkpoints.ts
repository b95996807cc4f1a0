import type { S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  allSettledOrThrow,
  CHECKPOINT_FILES,
  checkpointFileSchema,
  epochMetricsSchema,
  formatS3Uri,
  OPTIMIZERS,
  type CheckpointFile,
  type CheckpointRoot,
} from '@setrain/protocol';
import {
  getObjectBytes,
  joinKey,
  putObject,
  S3ObjectNotFoundError,
  s3SaveHandler,
  sha256Hex,
  uploadLarge,
  type PutObjectResult,
  type S3SaveResult,
} from '@setrain/storage';
import { z } from 'zod';

import { WorkerError } from '../worker-error.js';

/** 2: state.json lists the sha256 of every other file of the checkpoint. */
export const CHECKPOINT_STATE_VERSION = 2;

const weightSpecSchema = z
  .object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.string() })
  .loose();

/**
 * state.json: everything besides weights a resumed trial needs, and the sha256 of the checkpoint's
 * other files. Written last: it marks completeness; its own sha256 (in the trial's Redis state) is
 * the trusted root the whole checkpoint is verified from.
 */
export const checkpointStateSchema = z.object({
  version: z.literal(CHECKPOINT_STATE_VERSION),
  trialId: z.string(),
  /** The last completed epoch (1-based); training resumes at epoch + 1. */
  epoch: z.number().int().min(1),
  /** The training PRNG's state after this epoch. */
  rngState: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  /** Metrics of epochs 1..epoch. */
  epochs: z.array(epochMetricsSchema),
  optimizer: z.object({
    name: z.enum(OPTIMIZERS),
    /** Layout of optimizer.bin (tf.io.encodeWeights specs of optimizer.getWeights()). */
    weightSpecs: z.array(weightSpecSchema),
  }),
  /** model.json, weights.bin and optimizer.bin with their sizes and sha256. */
  files: z.array(checkpointFileSchema),
  savedAt: z.string(),
});
export type CheckpointState = z.infer<typeof checkpointStateSchema>;

/** A checkpoint object whose bytes do not match its trusted sha256, or cannot be read as one. */
export class CheckpointCorruptError extends WorkerError {
  constructor(
    readonly uri: string,
    detail: string,
    options?: ErrorOptions & { missing?: boolean },
  ) {
    super(
      options?.missing === true ? 'OBJECT_MISSING' : 'OBJECT_CORRUPT',
      `checkpoint object ${uri} ${detail}`,
      options,
    );
    this.name = 'CheckpointCorruptError';
  }
}

function fileOf(name: string, written: PutObjectResult): CheckpointFile {
  return { name, bytes: written.size, sha256: written.sha256 };
}

/** Encodes the optimizer's state and uploads it as optimizer.bin; returns the file and its layout. */
async function writeOptimizerState(
  client: S3Client,
  bucket: string,
  prefix: string,
  optimizer: tf.Optimizer,
): Promise<{ file: PutObjectResult; specs: tf.io.WeightsManifestEntry[] }> {
  const weights = await optimizer.getWeights();
  let encoded: { data: ArrayBuffer; specs: tf.io.WeightsManifestEntry[] };
  try {
    encoded = await tf.io.encodeWeights(weights);
  } finally {
    // getWeights() makes a fresh scalar for the iteration count; the rest are the optimizer's own.
    for (const weight of weights) if (weight.name === 'iter') weight.tensor.dispose();
  }
  const file = await uploadLarge(
    client,
    bucket,
    joinKey(prefix, CHECKPOINT_FILES.optimizer),
    new Uint8Array(encoded.data),
    { contentType: 'application/octet-stream' },
  );
  return { file, specs: encoded.specs };
}

/**
 * Writes model weights (model.json + weights.bin) and optimizer.bin side by side (one's hashing
 * and encoding overlaps the other's transfer), then, once both are stored, state.json (with the
 * sha256 of the three); returns the bytes written and the checkpoint's trusted root. If either
 * fails, no state.json is written: the checkpoint is incomplete and the first failure propagates.
 */
export async function writeCheckpoint(
  client: S3Client,
  bucket: string,
  prefix: string,
  model: LayersModel,
  optimizer: tf.Optimizer,
  state: Omit<CheckpointState, 'version' | 'optimizer' | 'savedAt' | 'files'> & {
    optimizerName: CheckpointState['optimizer']['name'];
  },
): Promise<{ bytes: number; root: CheckpointRoot }> {
  const [saved, optimizerState] = await allSettledOrThrow([
    model.save(s3SaveHandler(client, bucket, prefix)) as Promise<S3SaveResult>,
    writeOptimizerState(client, bucket, prefix, optimizer),
  ]);
  const optimizerFile = optimizerState.file;
  const { optimizerName, ...rest } = state;
  const stateJson: CheckpointState = {
    version: CHECKPOINT_STATE_VERSION,
    ...rest,
    // tfjs's WeightsManifestEntry is a closed interface; the schema keeps its fields open-ended.
    optimizer: {
      name: optimizerName,
      weightSpecs: optimizerState.specs as unknown as CheckpointState['optimizer']['weightSpecs'],
    },
    files: [
      fileOf(CHECKPOINT_FILES.modelJson, saved.files.modelJson),
      fileOf(CHECKPOINT_FILES.weights, saved.files.weights),
      fileOf(CHECKPOINT_FILES.optimizer, optimizerFile),
    ],
    savedAt: new Date().toISOString(),
  };
  const stateFile = await putObject(
    client,
    bucket,
    joinKey(prefix, CHECKPOINT_FILES.state),
    `${JSON.stringify(stateJson)}\n`,
    { contentType: 'application/json' },
  );
  const bytes =
    saved.files.modelJson.size + saved.files.weights.size + optimizerFile.size + stateFile.size;
  return { bytes, root: { epoch: state.epoch, prefix, stateSha256: stateFile.sha256 } };
}

/** A checkpoint's bytes, each checked against the trusted root; nothing applied yet. */
export interface VerifiedCheckpoint {
  readonly root: CheckpointRoot;
  readonly state: CheckpointState;
  readonly weightSpecs: tf.io.WeightsManifestEntry[];
  readonly weightData: ArrayBuffer;
  readonly optimizerData: ArrayBuffer;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Reads one object and checks it against `sha256`; a missing object is corrupt too. */
async function readChecked(
  client: S3Client,
  bucket: string,
  key: string,
  sha256: string,
): Promise<Uint8Array> {
  const uri = formatS3Uri({ bucket, key });
  let bytes: Uint8Array;
  try {
    bytes = (await getObjectBytes(client, bucket, key)).bytes;
  } catch (error) {
    if (error instanceof S3ObjectNotFoundError) {
      throw new CheckpointCorruptError(uri, 'is missing', { cause: error, missing: true });
    }
    throw error;
  }
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    throw new CheckpointCorruptError(uri, `has sha256 ${actual}, expected ${sha256}`);
  }
  return bytes;
}

function parseJson<T>(bytes: Uint8Array, uri: string, parse: (value: unknown) => T): T {
  try {
    return parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch (error) {
    throw new CheckpointCorruptError(uri, `is not valid: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

const modelJsonSchema = z.object({
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string()), weights: z.array(weightSpecSchema) }))
    .length(1),
});

/**
 * Reads a checkpoint and verifies it from its root: state.json against the root's sha256, then
 * model.json, weights.bin and optimizer.bin against the sha256 state.json records. Throws
 * CheckpointCorruptError naming the first object that does not verify.
 */
export async function readVerifiedCheckpoint(
  client: S3Client,
  bucket: string,
  root: CheckpointRoot,
): Promise<VerifiedCheckpoint> {
  const stateKey = joinKey(root.prefix, CHECKPOINT_FILES.state);
  const stateUri = formatS3Uri({ bucket, key: stateKey });
  const state = parseJson(
    await readChecked(client, bucket, stateKey, root.stateSha256),
    stateUri,
    (value) => checkpointStateSchema.parse(value),
  );
  const read = async (name: string): Promise<Uint8Array> => {
    const file = state.files.find((f) => f.name === name);
    if (file === undefined) throw new CheckpointCorruptError(stateUri, `does not list ${name}`);
    return readChecked(client, bucket, joinKey(root.prefix, name), file.sha256);
  };
  const modelJsonUri = formatS3Uri({
    bucket,
    key: joinKey(root.prefix, CHECKPOINT_FILES.modelJson),
  });
  const modelJson = parseJson(await read(CHECKPOINT_FILES.modelJson), modelJsonUri, (value) =>
    modelJsonSchema.parse(value),
  );
  const group = modelJson.weightsManifest[0];
  if (group?.paths.length !== 1 || group.paths[0] !== CHECKPOINT_FILES.weights) {
    throw new CheckpointCorruptError(
      modelJsonUri,
      `must name ${CHECKPOINT_FILES.weights} as its one weights file`,
    );
  }
  return {
    root,
    state,
    // The schema keeps the entries' fields open-ended; tfjs's WeightsManifestEntry is closed, and
    // loadWeights checks every entry against the weights file.
    weightSpecs: group.weights as unknown as tf.io.WeightsManifestEntry[],
    weightData: toArrayBuffer(await read(CHECKPOINT_FILES.weights)),
    optimizerData: toArrayBuffer(await read(CHECKPOINT_FILES.optimizer)),
  };
}

/** Loads verified model weights into `model` (built with the same arguments). */
export function applyModelWeights(model: LayersModel, checkpoint: VerifiedCheckpoint): void {
  const weights = tf.io.decodeWeights(checkpoint.weightData, checkpoint.weightSpecs);
  try {
    model.loadWeights(weights);
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** Loads verified optimizer state into `optimizer`. */
export async function applyOptimizerState(
  optimizer: tf.Optimizer,
  checkpoint: VerifiedCheckpoint,
): Promise<void> {
  // As above: state.json's specs are open-ended objects that tfjs decodes and checks itself.
  const specs = checkpoint.state.optimizer.weightSpecs as unknown as tf.io.WeightsManifestEntry[];
  const weights = tf.io.decodeWeights(checkpoint.optimizerData, specs);
  try {
    await optimizer.setWeights(
      specs.map((spec) => ({ name: spec.name, tensor: weights[spec.name] as tf.Tensor })),
    );
  } finally {
    // setWeights copies the values into new variables.
    tf.dispose(Object.values(weights));
  }
}
