import type { S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CHECKPOINT_FILES, epochMetricsSchema, OPTIMIZERS } from '@setrain/protocol';
import {
  getJson,
  getObjectBytes,
  joinKey,
  listObjects,
  putObject,
  s3LoadHandler,
  s3SaveHandler,
  uploadLarge,
  type S3SaveResult,
} from '@setrain/storage';
import { z } from 'zod';

export const CHECKPOINT_STATE_VERSION = 1;

const weightSpecSchema = z
  .object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.string() })
  .passthrough();

/** state.json: everything besides weights a resumed trial needs. Written last: it marks completeness. */
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
  savedAt: z.string(),
});
export type CheckpointState = z.infer<typeof checkpointStateSchema>;

/** A complete checkpoint found in S3. */
export interface CheckpointRef {
  readonly epoch: number;
  /** Key prefix of its directory (trailing slash). */
  readonly prefix: string;
}

const EPOCH_DIR = /epoch-(\d+)\/$/;

/**
 * The latest complete checkpoint under `checkpointsPrefix`: the highest epoch whose state.json exists
 * (weights are written first, state.json last, so a crash mid-write leaves an incomplete directory
 * that is ignored).
 */
export async function findLatestCheckpoint(
  client: S3Client,
  bucket: string,
  checkpointsPrefix: string,
): Promise<CheckpointRef | undefined> {
  let latest: CheckpointRef | undefined;
  for await (const object of listObjects(client, bucket, checkpointsPrefix)) {
    if (!object.key.endsWith(`/${CHECKPOINT_FILES.state}`)) continue;
    const prefix = object.key.slice(0, -CHECKPOINT_FILES.state.length);
    const match = EPOCH_DIR.exec(prefix);
    if (!match?.[1]) continue;
    const epoch = Number(match[1]);
    if (latest === undefined || epoch > latest.epoch) latest = { epoch, prefix };
  }
  return latest;
}

/**
 * Writes model weights (model.json + weights.bin), optimizer.bin and finally state.json to `prefix`;
 * returns the bytes written.
 */
export async function writeCheckpoint(
  client: S3Client,
  bucket: string,
  prefix: string,
  model: LayersModel,
  optimizer: tf.Optimizer,
  state: Omit<CheckpointState, 'version' | 'optimizer' | 'savedAt'> & {
    optimizerName: CheckpointState['optimizer']['name'];
  },
): Promise<number> {
  const saved = (await model.save(s3SaveHandler(client, bucket, prefix))) as S3SaveResult;
  const weights = await optimizer.getWeights();
  let encoded: { data: ArrayBuffer; specs: tf.io.WeightsManifestEntry[] };
  try {
    encoded = await tf.io.encodeWeights(weights);
  } finally {
    // getWeights() makes a fresh scalar for the iteration count; the rest are the optimizer's own.
    for (const weight of weights) if (weight.name === 'iter') weight.tensor.dispose();
  }
  const optimizerFile = await uploadLarge(
    client,
    bucket,
    joinKey(prefix, CHECKPOINT_FILES.optimizer),
    new Uint8Array(encoded.data),
    {
      contentType: 'application/octet-stream',
    },
  );
  const { optimizerName, ...rest } = state;
  const stateJson: CheckpointState = {
    version: CHECKPOINT_STATE_VERSION,
    ...rest,
    // tfjs's WeightsManifestEntry is a closed interface; the schema keeps its fields open-ended.
    optimizer: {
      name: optimizerName,
      weightSpecs: encoded.specs as unknown as CheckpointState['optimizer']['weightSpecs'],
    },
    savedAt: new Date().toISOString(),
  };
  const stateFile = await putObject(
    client,
    bucket,
    joinKey(prefix, CHECKPOINT_FILES.state),
    `${JSON.stringify(stateJson)}\n`,
    {
      contentType: 'application/json',
    },
  );
  return (
    saved.files.modelJson.size + saved.files.weights.size + optimizerFile.size + stateFile.size
  );
}

/** Reads a checkpoint's state.json. */
export async function readCheckpointState(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<CheckpointState> {
  const { value } = await getJson(client, bucket, joinKey(prefix, CHECKPOINT_FILES.state), {
    parse: (v) => checkpointStateSchema.parse(v),
  });
  return value;
}

/**
 * Loads a checkpoint's weights into `model` (built with the same arguments) and its optimizer state
 * into `optimizer`, and returns its state.json.
 */
export async function restoreCheckpoint(
  client: S3Client,
  bucket: string,
  prefix: string,
  model: LayersModel,
  optimizer: tf.Optimizer,
): Promise<CheckpointState> {
  const state = await readCheckpointState(client, bucket, prefix);
  const artifacts = await s3LoadHandler(client, bucket, prefix).load();
  if (artifacts.weightData === undefined || artifacts.weightSpecs === undefined) {
    throw new Error(`checkpoint ${prefix} has no weights`);
  }
  const modelWeights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  try {
    model.loadWeights(modelWeights);
  } finally {
    tf.dispose(Object.values(modelWeights));
  }
  const optimizerBytes = await getObjectBytes(
    client,
    bucket,
    joinKey(prefix, CHECKPOINT_FILES.optimizer),
  );
  const buffer = optimizerBytes.bytes.buffer.slice(
    optimizerBytes.bytes.byteOffset,
    optimizerBytes.bytes.byteOffset + optimizerBytes.bytes.byteLength,
  ) as ArrayBuffer;
  const specs = state.optimizer.weightSpecs as unknown as tf.io.WeightsManifestEntry[];
  const optimizerWeights = tf.io.decodeWeights(buffer, specs);
  try {
    await optimizer.setWeights(
      specs.map((spec) => ({ name: spec.name, tensor: optimizerWeights[spec.name] as tf.Tensor })),
    );
  } finally {
    // setWeights copies the values into new variables.
    tf.dispose(Object.values(optimizerWeights));
  }
  return state;
}
