/**
 * writeCheckpoint against s3rver, on a small dense model with Adam state: the weights and
 * optimizer.bin upload side by side, state.json goes last with the sha256 of both; when either
 * upload fails there is no state.json, and the error surfaces only once the other has settled.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CHECKPOINT_FILES } from '@setrain/protocol';
import { getObjectBytes, headObject, joinKey, sha256Hex } from '@setrain/storage';
import { checkpointStateSchema, writeCheckpoint } from '@setrain/worker';

import { epochMetrics } from './fixtures/epoch-metrics.js';
import { s3RequestLog } from './fixtures/s3-request-log.js';
import { startS3, type S3Server } from './harness/index.js';

let s3: S3Server;
before(async () => {
  await tf.setBackend('cpu');
  s3 = await startS3();
});
after(() => s3.stop());

const metrics = epochMetrics(1);
const state = {
  trialId: 's1.0',
  epoch: 1,
  rngState: [1, 2, 3, 4] as [number, number, number, number],
  epochs: [metrics],
  optimizerName: 'adam' as const,
};

/** A dense model and an Adam optimizer that has taken one step (so it has moments to save). */
function trainedModel(): { model: tfl.LayersModel; optimizer: tf.Optimizer } {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [5],
        units: 3,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
  const optimizer = tf.train.adam(0.01);
  const x = tf.ones([2, 5]);
  optimizer.minimize(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)));
  x.dispose();
  return { model, optimizer };
}

const isFile = (name: string, key: string | undefined): boolean =>
  key?.endsWith(`/${name}`) === true;

test('weights and optimizer.bin upload side by side; state.json goes last and lists both', async () => {
  const bucket = await s3.createBucket();
  const prefix = 'runs/s1/trials/s1.0/checkpoints/epoch-0001/';
  let optimizerStarted: () => void = () => {};
  const optimizerStart = new Promise<void>((resolve) => (optimizerStarted = resolve));
  const log = s3RequestLog(s3.config, async (request) => {
    if (isFile(CHECKPOINT_FILES.optimizer, request.key)) optimizerStarted();
    if (isFile(CHECKPOINT_FILES.weights, request.key)) {
      // Written one after the other, optimizer.bin would start only after weights.bin is stored.
      const held = await Promise.race([optimizerStart.then(() => true), sleep(5000, false)]);
      assert.ok(held, 'optimizer.bin did not start while weights.bin was held: not concurrent');
    }
  });
  const { model, optimizer } = trainedModel();
  const written = await writeCheckpoint(log.client, bucket, prefix, model, optimizer, state);

  const stateKey = joinKey(prefix, CHECKPOINT_FILES.state);
  const stateStart = log.events.indexOf(`start PutObjectCommand ${stateKey}`);
  for (const name of [
    CHECKPOINT_FILES.modelJson,
    CHECKPOINT_FILES.weights,
    CHECKPOINT_FILES.optimizer,
  ]) {
    const done = log.events.indexOf(`done PutObjectCommand ${joinKey(prefix, name)}`);
    assert.ok(done >= 0 && done < stateStart, `${name} was stored before state.json was sent`);
  }
  const stateBytes = (await getObjectBytes(s3.client, bucket, stateKey)).bytes;
  assert.equal(written.root.stateSha256, sha256Hex(stateBytes));
  const saved = checkpointStateSchema.parse(JSON.parse(new TextDecoder().decode(stateBytes)));
  assert.deepEqual(saved.files.map((f) => f.name).sort(), [
    CHECKPOINT_FILES.modelJson,
    CHECKPOINT_FILES.optimizer,
    CHECKPOINT_FILES.weights,
  ]);
  for (const file of saved.files) {
    const object = await getObjectBytes(s3.client, bucket, joinKey(prefix, file.name));
    assert.equal(sha256Hex(object.bytes), file.sha256, file.name);
    assert.equal(object.bytes.byteLength, file.bytes, file.name);
  }
  assert.ok(saved.optimizer.weightSpecs.length > 1, 'Adam moments and the iteration count');
});

for (const failing of [CHECKPOINT_FILES.optimizer, CHECKPOINT_FILES.weights]) {
  test(`a failed ${failing} upload leaves no state.json and surfaces after the other settled`, async () => {
    const bucket = await s3.createBucket();
    const prefix = 'runs/s1/trials/s1.0/checkpoints/epoch-0001/';
    const other =
      failing === CHECKPOINT_FILES.optimizer
        ? CHECKPOINT_FILES.modelJson
        : CHECKPOINT_FILES.optimizer;
    const log = s3RequestLog(s3.config, async (request) => {
      if (isFile(failing, request.key)) throw new Error(`injected ${failing} failure`);
      // The other upload is slower than the failure, so it is still running when that happens.
      if (isFile(other, request.key)) await sleep(300);
    });
    const { model, optimizer } = trainedModel();
    await assert.rejects(
      writeCheckpoint(log.client, bucket, prefix, model, optimizer, state),
      (error: unknown) => {
        assert.match((error as Error).message, new RegExp(`injected ${failing} failure`));
        assert.ok(
          log.events.includes(`done PutObjectCommand ${joinKey(prefix, other)}`),
          `${other} was still uploading when the error surfaced`,
        );
        return true;
      },
    );
    assert.equal(
      await headObject(s3.client, bucket, joinKey(prefix, CHECKPOINT_FILES.state)),
      undefined,
    );
  });
}
