import { type S3Client } from '@aws-sdk/client-s3';
import { runKeys, type TrialState } from '@setrain/protocol';
import { putObject } from '@setrain/storage';

import { type SweepRecord } from '../sweep-record.js';
import { toSweepSummary } from '../views.js';

/**
 * The document of runs/<sweepId>/sweep.json: the API's sweep summary (status, counts, best trial)
 * with the sampler, spec and trials.
 */
export function sweepJsonDocument(record: SweepRecord, trials: readonly TrialState[]): object {
  return {
    ...toSweepSummary(record, trials),
    sampler: record.sampler,
    spec: record.spec,
    trials: trials.map((t) => ({
      trialId: t.trialId,
      status: t.status,
      params: t.params,
      objectiveValue: t.objectiveValue,
      ...(t.reason !== undefined ? { reason: t.reason } : {}),
    })),
  };
}

/** Writes runs/<sweepId>/sweep.json to the sweep's artifacts bucket. */
export async function writeSweepJson(
  s3: S3Client,
  record: SweepRecord,
  trials: readonly TrialState[],
): Promise<void> {
  const document = sweepJsonDocument(record, trials);
  await putObject(
    s3,
    record.artifactsBucket,
    runKeys(record.id).sweepJson,
    `${JSON.stringify(document, null, 2)}\n`,
    { contentType: 'application/json' },
  );
}
