import type { S3Client } from '@aws-sdk/client-s3';
import {
  trialRecordSchema,
  type AttemptLogEntry,
  type EpochMetrics,
  type TrialPayload,
  type TrialRecord,
} from '@setrain/protocol';
import { putObject } from '@setrain/storage';

import { bestEpochOf } from './objective.js';

/** What a trial record says beyond the payload it was run from. */
export interface TrialRecordFields {
  readonly status: TrialRecord['status'];
  readonly reason?: string | undefined;
  readonly epochs: readonly EpochMetrics[];
  readonly provenance: TrialRecord['provenance'];
  readonly artifacts?: TrialRecord['artifacts'];
  readonly startedAt?: string | undefined;
  readonly attemptsLog?: readonly AttemptLogEntry[] | undefined;
  readonly trialMetrics?: TrialRecord['trialMetrics'];
}

/** Builds (and validates) a trial.json record; the best epoch is derived from `epochs`. */
export function buildTrialRecord(payload: TrialPayload, fields: TrialRecordFields): TrialRecord {
  const best = bestEpochOf(fields.epochs, payload.objective);
  return trialRecordSchema.parse({
    trialId: payload.trialId,
    sweepId: payload.sweepId,
    trialNumber: payload.trialNumber,
    status: fields.status,
    ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
    params: payload.params,
    model: payload.model,
    training: payload.training,
    objective: payload.objective,
    objectiveValue: best.value,
    bestEpoch: best.epoch,
    ...(fields.trialMetrics !== undefined ? { trialMetrics: fields.trialMetrics } : {}),
    epochs: [...fields.epochs],
    provenance: fields.provenance,
    artifacts: fields.artifacts ?? [],
    ...(fields.attemptsLog !== undefined ? { attemptsLog: [...fields.attemptsLog] } : {}),
    ...(payload.pbt !== undefined ? { pbt: payload.pbt } : {}),
    ...(fields.startedAt !== undefined ? { startedAt: fields.startedAt } : {}),
    finishedAt: new Date().toISOString(),
  } satisfies TrialRecord);
}

/** Writes a trial record as pretty JSON to `key`. */
export async function writeTrialRecord(
  client: S3Client,
  bucket: string,
  key: string,
  record: TrialRecord,
): Promise<void> {
  await putObject(client, bucket, key, `${JSON.stringify(record, null, 2)}\n`, {
    contentType: 'application/json',
  });
}

/** The attempts log with its last entry (the attempt writing the record) ended as `outcome`. */
export function endLastAttempt(
  log: readonly AttemptLogEntry[] | undefined,
  outcome: NonNullable<AttemptLogEntry['outcome']>,
  reason?: string,
): AttemptLogEntry[] | undefined {
  if (log === undefined || log.length === 0) return undefined;
  const last = log[log.length - 1] as AttemptLogEntry;
  return [
    ...log.slice(0, -1),
    {
      ...last,
      endedAt: last.endedAt ?? new Date().toISOString(),
      outcome,
      ...(reason !== undefined ? { reason } : {}),
    },
  ];
}
