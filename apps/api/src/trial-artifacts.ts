import {
  CHECKPOINT_FILES,
  checkpointFileSchema,
  formatS3Uri,
  runKeys,
  type CheckpointRoot,
  type TrialArtifactGroup,
  type TrialState,
} from '@setrain/protocol';
import { getObjectBytes, joinKey, S3ObjectNotFoundError, sha256Hex } from '@setrain/storage';
import { z } from 'zod';

import { type RouteContext } from './app.js';
import { ApiError } from './errors.js';
import { readTrialRecord } from './routes/best.js';

/** One file of a trial as the artifacts route lists it (before its presigned URL is added). */
export interface TrialFile {
  readonly path: string;
  readonly key: string;
  readonly group: TrialArtifactGroup;
  readonly epoch?: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** The files of a trial, and why some are not there. */
export interface TrialFiles {
  readonly files: TrialFile[];
  readonly notes: string[];
}

/**
 * The part of a checkpoint's state.json that lists its files (the worker's checkpointStateSchema
 * holds more; only the file list matters here, and zod drops the rest).
 */
const checkpointFilesSchema = z.object({ files: z.array(checkpointFileSchema) });

function isMissing(error: unknown): boolean {
  return error instanceof S3ObjectNotFoundError;
}

/** state.json (checked against the trial state's root sha256) and the files it lists. */
async function checkpointFiles(
  context: RouteContext,
  bucket: string,
  trialPrefix: string,
  root: CheckpointRoot,
): Promise<TrialFile[] | undefined> {
  const stateKey = joinKey(root.prefix, CHECKPOINT_FILES.state);
  let bytes: Uint8Array;
  try {
    bytes = (await getObjectBytes(context.s3, bucket, stateKey)).bytes;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const uri = formatS3Uri({ bucket, key: stateKey });
  if (sha256Hex(bytes) !== root.stateSha256) {
    throw new ApiError('ARTIFACT_NOT_FOUND', {
      detail: `${uri} does not match the sha256 the trial state records for it`,
    });
  }
  const parsed = checkpointFilesSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success) {
    throw new ApiError('ARTIFACT_NOT_FOUND', { detail: `${uri} lists no valid files` });
  }
  const file = (key: string, size: number, sha256: string): TrialFile => ({
    path: key.slice(trialPrefix.length),
    key,
    group: 'checkpoint',
    epoch: root.epoch,
    bytes: size,
    sha256,
  });
  return [
    file(stateKey, bytes.byteLength, root.stateSha256),
    ...parsed.data.files.map((f) => file(joinKey(root.prefix, f.name), f.bytes, f.sha256)),
  ];
}

/**
 * Every file of a trial with its sha256: trial.json (hashed as read), the best/ and final/ files
 * trial.json lists, and each checkpoint the trial state records. Files not written yet or already
 * removed (retention) are left out with a note saying so.
 */
export async function listTrialFiles(
  context: RouteContext,
  bucket: string,
  sweepId: string,
  state: TrialState,
): Promise<TrialFiles> {
  const keys = runKeys(sweepId).trial(state.trialId);
  const files: TrialFile[] = [];
  const notes: string[] = [];
  try {
    try {
      const trialJson = await readTrialRecord(context, bucket, keys.trialJson);
      const { key, bytes, sha256 } = trialJson;
      files.push({ path: 'trial.json', key, group: 'record', bytes, sha256 });
      for (const artifact of trialJson.record.artifacts) {
        if (!artifact.key.startsWith(keys.prefix)) continue;
        const group = artifact.key.startsWith(keys.best) ? 'best' : 'final';
        files.push({
          path: artifact.key.slice(keys.prefix.length),
          key: artifact.key,
          group,
          ...(artifact.epoch !== undefined ? { epoch: artifact.epoch } : {}),
          bytes: artifact.bytes,
          sha256: artifact.sha256,
        });
      }
    } catch (error) {
      if (!isMissing(error)) throw error;
      notes.push('trial.json and the best/ and final/ weights are written when the trial ends');
    }
    for (const root of state.checkpoints ?? []) {
      const listed = await checkpointFiles(context, bucket, keys.prefix, root);
      if (listed === undefined) notes.push(`the checkpoint of epoch ${root.epoch} was removed`);
      else files.push(...listed);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError('S3_UNAVAILABLE', {}, undefined, { cause: error });
  }
  return { files, notes };
}
