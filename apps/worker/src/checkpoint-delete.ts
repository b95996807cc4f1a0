import type { S3Client } from '@aws-sdk/client-s3';
import { CHECKPOINT_FILES } from '@setrain/protocol';
import { deletePrefix, joinKey } from '@setrain/storage';

// Apart from trainer/checkpoints.ts (which loads tfjs): the job holder deletes superseded
// checkpoints too, once it has recorded their successor.
/** Deletes a checkpoint directory (state.json first, so a half-deleted one never looks complete). */
export async function deleteCheckpoint(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<void> {
  await deletePrefix(client, bucket, joinKey(prefix, CHECKPOINT_FILES.state));
  await deletePrefix(client, bucket, prefix);
}
