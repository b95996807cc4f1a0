// tfjs models saved to and loaded from a real S3 server (s3rver) through @setrain/storage's handlers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  ChecksumMismatchError,
  getJson,
  headObject,
  MIN_PART_SIZE_BYTES,
  ModelArtifactsInvalidError,
  putObject,
  s3LoadHandler,
  s3SaveHandler,
  sha256Hex,
  type S3SaveResult,
} from '@setrain/storage';
import { startS3, type S3Server } from '../../../test/harness/index.js';
import { recordingClient } from './recording-client.js';

let s3: S3Server;
before(async () => {
  await tf.setBackend('cpu');
  s3 = await startS3();
});
after(() => s3.stop());

function denseModel(inputs: number, units: number): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(
    tfl.layers.dense({
      inputShape: [inputs],
      units,
      activation: 'sigmoid',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }),
      biasInitializer: tfl.initializers.randomNormal({ seed: 8 }),
    }),
  );
  return model;
}

test('a LayersModel saved through s3SaveHandler loads back with identical predictions', async () => {
  const bucket = await s3.createBucket();
  const prefix = 'runs/s1/trials/s1.0/checkpoints/epoch-0001/';
  const tensorsBefore = tf.memory().numTensors;
  const model = denseModel(5, 3);
  const input = tf.tensor2d([[0.1, -0.2, 0.3, 0.4, -0.5]]);
  const expected = model.predict(input) as tf.Tensor;
  const handler = s3SaveHandler(s3.client, bucket, prefix);
  const result = (await model.save(handler)) as S3SaveResult;
  assert.equal(result.modelArtifactsInfo.weightDataBytes, (5 * 3 + 3) * 4);
  const weightsHead = await headObject(s3.client, bucket, `${prefix}weights.bin`);
  assert.equal(weightsHead?.sha256, result.files.weights.sha256);
  assert.equal(weightsHead?.size, (5 * 3 + 3) * 4);
  const modelJson = await getJson<{ weightsManifest: { paths: string[] }[]; format: string }>(
    s3.client,
    bucket,
    `${prefix}model.json`,
  );
  assert.deepEqual(modelJson.value.weightsManifest[0]?.paths, ['weights.bin']);
  assert.equal(modelJson.value.format, 'layers-model');
  assert.equal(modelJson.sha256, result.files.modelJson.sha256);

  const loaded = await tfl.loadLayersModel(s3LoadHandler(s3.client, bucket, prefix));
  const actual = loaded.predict(input) as tf.Tensor;
  assert.deepEqual(await actual.data(), await expected.data());
  tf.dispose([input, expected, actual]);
  model.dispose();
  loaded.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('weights above the part size go up multipart and come back intact', async () => {
  const bucket = await s3.createBucket();
  const model = denseModel(1200, 1200); // 1,441,200 float32 = 5.5 MiB > one 5 MiB part
  const { client, commands } = recordingClient(s3.config);
  // Capture the artifacts tfjs hands a save handler, to compare bytes after the round trip.
  let artifacts: tf.io.ModelArtifacts | undefined;
  const handler = s3SaveHandler(client, bucket, 'big', { partSizeBytes: MIN_PART_SIZE_BYTES });
  const result = (await model.save({
    save: (captured) => {
      artifacts = captured;
      return handler.save(captured);
    },
  })) as S3SaveResult;
  model.dispose();
  assert.ok(artifacts);
  assert.equal(result.files.weights.size, 1_441_200 * 4);
  assert.equal(commands.filter((name) => name === 'UploadPartCommand').length, 2);
  const original = new Uint8Array(artifacts.weightData as ArrayBuffer);
  assert.equal(result.files.weights.sha256, sha256Hex(original));
  const loaded = await s3LoadHandler(s3.client, bucket, 'big').load();
  assert.ok(
    Buffer.from(loaded.weightData as ArrayBuffer).equals(Buffer.from(original)),
    'weights differ after the round trip',
  );
});

test('load verifies sha256 metadata and rejects model.json that is not a tfjs model', async () => {
  const bucket = await s3.createBucket();
  const model = denseModel(2, 1);
  await model.save(s3SaveHandler(s3.client, bucket, 'm'));
  model.dispose();
  // Replace weights.bin with other bytes but keep claiming the old sha256.
  const head = await headObject(s3.client, bucket, 'm/weights.bin');
  assert.ok(head?.sha256);
  await s3.client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'm/weights.bin',
      Body: new Uint8Array(12),
      Metadata: { sha256: head.sha256 },
    }),
  );
  await assert.rejects(
    s3LoadHandler(s3.client, bucket, 'm').load(),
    (error: unknown) =>
      error instanceof ChecksumMismatchError && error.uri === `s3://${bucket}/m/weights.bin`,
  );
  // Opting out of verification reads the (wrong) bytes.
  const unverified = await s3LoadHandler(s3.client, bucket, 'm', { verifySha256: false }).load();
  assert.equal((unverified.weightData as ArrayBuffer).byteLength, 12);

  await putObject(s3.client, bucket, 'x/model.json', '{"modelTopology":{}}');
  await assert.rejects(
    s3LoadHandler(s3.client, bucket, 'x').load(),
    (error: unknown) =>
      error instanceof ModelArtifactsInvalidError &&
      /weightsManifest is missing/.test(error.message),
  );
  await putObject(
    s3.client,
    bucket,
    'y/model.json',
    '{"modelTopology":{},"weightsManifest":[{"paths":["../escape.bin"],"weights":[]}]}',
  );
  await assert.rejects(s3LoadHandler(s3.client, bucket, 'y').load(), /without '\.\.'/);
});
