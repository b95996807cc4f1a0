import type { S3Client } from '@aws-sdk/client-s3';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { exportKerasWeights } from '@setrain/model';
import { FINAL_FILES, type TrialRecord } from '@setrain/protocol';
import {
  joinKey,
  putObject,
  s3SaveHandler,
  uploadLarge,
  type S3SaveResult,
} from '@setrain/storage';

import type { TrialOutcome } from '../trial-ipc.js';
import { buildTrialRecord, endLastAttempt, writeTrialRecord } from '../trial-record.js';
import type { TrialContext } from './trial-context.js';

/** Writes final/: model.json + weights.bin (tfjs), weights.h5 (Keras) and classes.json. */
async function writeFinal(
  client: S3Client,
  bucket: string,
  prefix: string,
  model: LayersModel,
  classes: readonly string[],
): Promise<TrialRecord['artifacts']> {
  const saved = (await model.save(s3SaveHandler(client, bucket, prefix))) as S3SaveResult;
  const h5 = await uploadLarge(
    client,
    bucket,
    joinKey(prefix, FINAL_FILES.kerasH5),
    await exportKerasWeights(model),
    { contentType: 'application/x-hdf5' },
  );
  const classesJson = await putObject(
    client,
    bucket,
    joinKey(prefix, FINAL_FILES.classes),
    `${JSON.stringify(classes)}\n`,
    { contentType: 'application/json' },
  );
  return [saved.files.modelJson, saved.files.weights, h5, classesJson].map((file) => ({
    key: file.key,
    bytes: file.size,
    sha256: file.sha256,
  }));
}

/**
 * The final stage: writes final/ and then trial.json (completed, or early-stopped with its reason),
 * and returns the completed outcome.
 */
export async function writeFinalArtifacts(
  ctx: TrialContext,
  model: LayersModel,
  classes: readonly string[],
  earlyStopped: string | undefined,
): Promise<TrialOutcome> {
  ctx.channel.send({ type: 'phase', phase: 'final' });
  const started = performance.now();
  const artifacts = await writeFinal(ctx.client, ctx.bucket, ctx.keys.final, model, classes);
  ctx.channel.send({
    type: 'metric',
    event: {
      kind: 'checkpoint',
      checkpoint: 'final',
      seconds: (performance.now() - started) / 1000,
      bytes: artifacts.reduce((sum, a) => sum + a.bytes, 0),
    },
  });
  const status = earlyStopped !== undefined ? 'early-stopped' : 'completed';
  const record = buildTrialRecord(ctx.payload, {
    status,
    reason: earlyStopped,
    attemptsLog: endLastAttempt(ctx.request.attemptsLog, status),
    epochs: ctx.history,
    provenance: ctx.provenance,
    artifacts,
    startedAt: ctx.startedAt,
  });
  await writeTrialRecord(ctx.client, ctx.bucket, ctx.keys.trialJson, record);
  return { kind: 'completed', record, trialJsonKey: ctx.keys.trialJson };
}
