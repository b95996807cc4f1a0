/**
 * A worker re-checks what the API checked at submit, since a job can reach the queue without the
 * API: against real services (redis-server, s3rver, a worker forking trial processes), a payload
 * whose dataset lies outside SETRAIN_DATA_BUCKETS, one whose key climbs out with `..`, and one over
 * SETRAIN_MAX_TRIAL_MEMORY_BYTES each fail their trial at once, never retried, with an error
 * naming the field and the variable, while the worker stays up and ready.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { trialPayloadSchema, type TrialPayload } from '@setrain/protocol';

import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import { useWorkerTestFile } from './fixtures/worker-services.js';

/** 1 GiB: a 75-pixel trial with a small batch fits, 1024 pixels x 4096 images does not. */
const BUDGET = 2 ** 30;

const worker = useWorkerTestFile({
  label: 'security-worker',
  env: {
    SETRAIN_MAX_TRIAL_MEMORY_BYTES: String(BUDGET),
    SETRAIN_DATA_BUCKETS: 'setrain-datasets-elsewhere',
  },
});
/** A bucket the worker's SETRAIN_DATA_BUCKETS does not list. */
let otherBucket: Promise<string> | undefined;

/** Made on first use: top-level before hooks do not wait for one another (Node 20). */
function otherBucketName(): Promise<string> {
  otherBucket ??= worker.services.s3.createBucket();
  return otherBucket;
}

/** Enqueues a payload straight into the queue (no API) that must fail; returns the message. */
async function failingTrial(fields: Partial<TrialPayload>): Promise<string> {
  const { message, job } = await worker.failingTrial({
    dataset: `s3://${worker.services.bucket}/datasets/none/manifest.jsonl`,
    ...fields,
  });
  assert.equal(job.attemptsMade, 1, 'a limit is not retried');
  assert.equal(worker.runtime.worker.isRunning(), true);
  assert.equal(worker.runtime.health.notReadyReason(), undefined, 'the worker stays ready');
  return message;
}

test('a dataset in a bucket outside SETRAIN_DATA_BUCKETS fails its trial, never read', async () => {
  // A real dataset: without the check the worker would read it with its own credentials.
  const data = await uploadShapesDataset(
    worker.services.s3.client,
    await otherBucketName(),
    'datasets/secret',
    {
      count: 4,
    },
  );
  const message = await failingTrial({ dataset: data.manifestUri });
  assert.match(
    message,
    new RegExp(
      `DATA_BUCKET_NOT_ALLOWED: dataset ${data.manifestUri} is not in a bucket this worker reads from; allowed buckets: ${worker.services.bucket}, setrain-datasets-elsewhere \\(SETRAIN_DATA_BUCKETS\\)`,
    ),
  );
});

test('backbone weights outside the allowed buckets and `..` keys fail the same way', async () => {
  const weights = `s3://${await otherBucketName()}/weights/notop.h5`;
  assert.match(
    await failingTrial({ model: { inputSize: 75, backboneWeights: weights } }),
    new RegExp(`DATA_BUCKET_NOT_ALLOWED: model.backboneWeights ${weights} is not in a bucket`),
  );
  assert.match(
    await failingTrial({
      dataset: `s3://${worker.services.bucket}/datasets/../../etc/manifest.jsonl`,
    }),
    /DATA_BUCKET_NOT_ALLOWED: dataset s3:\/\/\S+ the object key .*\.\./,
  );
});

test('a trial over SETRAIN_MAX_TRIAL_MEMORY_BYTES fails before it trains, naming the fields', async () => {
  const message = await failingTrial({
    model: { inputSize: 1024 },
    training: trialPayloadSchema.shape.training.parse({ batchSize: 4096, epochs: 1 }),
  });
  assert.match(
    message,
    /TRIAL_MEMORY_EXCEEDED: this trial may need about [\d.]+ GiB \(model.inputSize 1024, training.batchSize 4096\), more than this worker's 1.00 GiB budget per trial \(SETRAIN_MAX_TRIAL_MEMORY_BYTES\)/,
  );
});
