/**
 * writeWeightSets against s3rver, on a small dense model: final/ is uploaded; best/ is a
 * server-side copy of final/ when the best epoch is the last (records identical to an upload of
 * the same weights but for key and set), and is uploaded from the best epoch's weights otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FINAL_FILES, type TrialRecord } from '@setrain/protocol';
import { getObjectBytes, sha256Hex } from '@setrain/storage';
import { writeWeightSets, type WeightSetsPlan } from '@setrain/worker';

import { s3RequestLog, type S3RequestLog } from './fixtures/s3-request-log.js';
import { startS3, type S3Server } from './harness/index.js';

let s3: S3Server;
before(async () => {
  await tf.setBackend('cpu');
  s3 = await startS3();
});
after(() => s3.stop());

const CLASSES = ['circle', 'square', 'triangle'];
const FILES = [
  FINAL_FILES.modelJson,
  FINAL_FILES.weights,
  FINAL_FILES.kerasH5,
  FINAL_FILES.classes,
];
const UPLOADS = new Set(['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand']);

function denseModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [5],
        units: 3,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 11 }),
      }),
    ],
  });
}

/** A plan for one trial under `trial/`, written through `log`'s client. */
function planFor(
  log: S3RequestLog,
  bucket: string,
  epochs: { last: number; best: number },
  loadBestWeights: WeightSetsPlan['loadBestWeights'],
): WeightSetsPlan {
  return {
    client: log.client,
    bucket,
    finalPrefix: 'trial/final/',
    bestPrefix: 'trial/best/',
    lastEpoch: epochs.last,
    bestEpoch: epochs.best,
    loadBestWeights,
  };
}

/** Each artifact's bytes as stored hash to its recorded sha256 and have its recorded size. */
async function assertStoredAsRecorded(
  bucket: string,
  artifacts: TrialRecord['artifacts'],
): Promise<void> {
  for (const artifact of artifacts) {
    const object = await getObjectBytes(s3.client, bucket, artifact.key);
    assert.equal(sha256Hex(object.bytes), artifact.sha256, artifact.key);
    assert.equal(object.sha256, artifact.sha256, `${artifact.key}'s sha256 metadata`);
    assert.equal(object.bytes.byteLength, artifact.bytes, artifact.key);
  }
}

const withoutKey = (artifacts: TrialRecord['artifacts']): unknown[] =>
  artifacts.map(({ bytes, sha256, epoch }) => ({ bytes, sha256, epoch }));

/**
 * The model of the first two tests (layer names, which model.json and the .h5 record, differ
 * between instances), and best/'s records from the first, to compare an upload of it against.
 */
const shared = denseModel();
let copiedBest: TrialRecord['artifacts'] | undefined;

test('best epoch == last epoch: best/ is a server-side copy of final/, recorded the same', async () => {
  const bucket = await s3.createBucket();
  const log = s3RequestLog(s3.config);
  const artifacts = await writeWeightSets(
    planFor(log, bucket, { last: 3, best: 3 }, () => {
      throw new Error('the best epoch is the last: its weights are already in the model');
    }),
    shared,
    CLASSES,
  );
  const last = artifacts.filter((a) => a.set === 'last');
  const best = artifacts.filter((a) => a.set === 'best');
  assert.deepEqual(
    last.map((a) => a.key),
    FILES.map((name) => `trial/final/${name}`),
  );
  assert.deepEqual(
    best.map((a) => a.key),
    FILES.map((name) => `trial/best/${name}`),
  );
  assert.deepEqual(withoutKey(best), withoutKey(last));
  assert.ok(best.every((a) => a.epoch === 3));
  // Copied, not uploaded: four CopyObjects, model.json last, and no upload request for best/.
  const bestCommands = log.commandsFor('trial/best/');
  assert.deepEqual(bestCommands, Array<string>(4).fill('CopyObjectCommand'));
  const copies = log.events.filter((e) => e.startsWith('start CopyObjectCommand'));
  assert.equal(copies.at(-1), `start CopyObjectCommand trial/best/${FINAL_FILES.modelJson}`);
  assert.ok(log.commandsFor('trial/final/').some((c) => UPLOADS.has(c)));
  await assertStoredAsRecorded(bucket, artifacts);
  copiedBest = best;
});

test('best epoch != last epoch: best/ is uploaded after final/, from the weights loaded for it', async () => {
  const bucket = await s3.createBucket();
  const log = s3RequestLog(s3.config);
  let finalDoneAtLoad: boolean | undefined;
  const artifacts = await writeWeightSets(
    // The copy test's model, weights unchanged: the upload must record what the copy recorded.
    planFor(log, bucket, { last: 3, best: 2 }, () => {
      finalDoneAtLoad = FILES.every((name) =>
        log.events.some((e) => e.startsWith('done ') && e.endsWith(` trial/final/${name}`)),
      );
      return Promise.resolve();
    }),
    shared,
    CLASSES,
  );
  assert.equal(finalDoneAtLoad, true, 'final/ was stored before the best weights were loaded');
  const best = artifacts.filter((a) => a.set === 'best');
  assert.ok(best.every((a) => a.epoch === 2));
  const bestCommands = log.commandsFor('trial/best/');
  assert.ok(!bestCommands.includes('CopyObjectCommand'), bestCommands.join());
  assert.ok(
    bestCommands.some((c) => UPLOADS.has(c)),
    bestCommands.join(),
  );
  await assertStoredAsRecorded(bucket, artifacts);
  assert.ok(copiedBest !== undefined, 'runs after the copy test');
  // The .h5 records HDF5 object times (seconds), so an export a second later differs in those
  // bytes alone: compare its size; every other file must be byte for byte what the copy recorded.
  const comparable = (artifacts: TrialRecord['artifacts']): unknown[] =>
    artifacts.map(({ key, bytes, sha256 }) =>
      key.endsWith(`/${FINAL_FILES.kerasH5}`) ? { key, bytes } : { key, bytes, sha256 },
    );
  assert.deepEqual(comparable(best), comparable(copiedBest));
});

test('best epoch != last epoch with other weights: best/ holds those, not final/s', async () => {
  const bucket = await s3.createBucket();
  const log = s3RequestLog(s3.config);
  const model = denseModel();
  const artifacts = await writeWeightSets(
    planFor(log, bucket, { last: 3, best: 1 }, (m) => {
      m.setWeights(m.getWeights().map((w) => tf.onesLike(w)));
      return Promise.resolve();
    }),
    model,
    CLASSES,
  );
  const sha = (set: string, name: string): string | undefined =>
    artifacts.find((a) => a.set === set && a.key.endsWith(`/${name}`))?.sha256;
  assert.notEqual(sha('best', FINAL_FILES.weights), sha('last', FINAL_FILES.weights));
  assert.notEqual(sha('best', FINAL_FILES.kerasH5), sha('last', FINAL_FILES.kerasH5));
  assert.equal(sha('best', FINAL_FILES.classes), sha('last', FINAL_FILES.classes));
  await assertStoredAsRecorded(bucket, artifacts);
});
