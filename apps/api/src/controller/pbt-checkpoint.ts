// Server-side copies of complete checkpoints for PBT's exploit step.
import { type S3Client } from '@aws-sdk/client-s3';
import {
  allSettledOrThrow,
  CHECKPOINT_FILES,
  epochMetricsSchema,
  formatS3Uri,
  type CheckpointRoot,
  type EpochMetrics,
} from '@setrain/protocol';
import { copyObject, getObjectBytes, joinKey, sha256Hex } from '@setrain/storage';
import { z } from 'zod';

/** The parts of a checkpoint's state.json the controller reads (the worker owns the full schema). */
const stateViewSchema = z.object({
  epoch: z.number().int().min(1),
  epochs: z.array(epochMetricsSchema),
  files: z.array(
    z.object({
      name: z.string().regex(/^[\w.-]+$/),
      /** The object's size as written (checkpoints from older workers may lack it). */
      bytes: z.number().int().nonnegative().optional(),
    }),
  ),
});

/** A checkpoint's state.json, parsed, and its own size in bytes. */
interface StateView {
  state: z.infer<typeof stateViewSchema>;
  stateBytes: number;
}

/** A donor checkpoint that does not match its trusted root: PBT does not copy it. */
export class CheckpointCopyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CheckpointCopyError';
  }
}

/** Reads a checkpoint's state.json and checks it against the root's sha256. */
async function readState(s3: S3Client, bucket: string, root: CheckpointRoot): Promise<StateView> {
  const key = joinKey(root.prefix, CHECKPOINT_FILES.state);
  const { bytes } = await getObjectBytes(s3, bucket, key);
  const actual = sha256Hex(bytes);
  if (actual !== root.stateSha256) {
    throw new CheckpointCopyError(
      `${formatS3Uri({ bucket, key })} has sha256 ${actual}, expected ${root.stateSha256}`,
    );
  }
  const state = stateViewSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  return { state, stateBytes: bytes.byteLength };
}

/**
 * Copies a complete checkpoint to `prefix` with CopyObject (no bytes pass through the API): every
 * file its state.json lists, concurrently, then state.json itself, last, once they all succeeded,
 * as the worker writes them. The sizes state.json records (trusted: its sha256 is the root's) spare
 * copyObject a HEAD per file. A complete checkpoint is immutable, so the copy has the same trusted
 * root (state.json's sha256), which is checked on the copy before it is returned; the worker
 * verifies every other file from it when it resumes. Returns the copy's root and the run's metrics
 * up to the checkpoint's epoch.
 */
export async function copyCheckpoint(
  s3: S3Client,
  bucket: string,
  root: CheckpointRoot,
  prefix: string,
): Promise<{ root: CheckpointRoot; epochs: EpochMetrics[] }> {
  const { state, stateBytes } = await readState(s3, bucket, root);
  await allSettledOrThrow(
    state.files.map((file) =>
      copyObject(
        s3,
        bucket,
        joinKey(root.prefix, file.name),
        joinKey(prefix, file.name),
        file.bytes === undefined ? {} : { sourceBytes: file.bytes },
      ),
    ),
  );
  const copied = { epoch: root.epoch, prefix, stateSha256: root.stateSha256 };
  await copyObject(
    s3,
    bucket,
    joinKey(root.prefix, CHECKPOINT_FILES.state),
    joinKey(prefix, CHECKPOINT_FILES.state),
    { sourceBytes: stateBytes },
  );
  await readState(s3, bucket, copied);
  return { root: copied, epochs: state.epochs.filter((m) => m.epoch <= state.epoch) };
}
