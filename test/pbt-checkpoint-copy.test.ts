/**
 * copyCheckpoint (PBT's exploit copy) against s3rver: the files state.json lists are copied
 * concurrently with the sizes it records (no HEAD per file), state.json last once they all
 * succeeded; a checkpoint from an older worker (no sizes) still copies; a state.json that does not
 * match its trusted root copies nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CheckpointCopyError, copyCheckpoint } from '@setrain/api';
import { CHECKPOINT_FILES, type CheckpointRoot } from '@setrain/protocol';
import { getObjectBytes, listKeys, putObject, sha256Hex } from '@setrain/storage';

import { epochMetrics } from './fixtures/epoch-metrics.js';
import { s3RequestLog } from './fixtures/s3-request-log.js';
import { startS3, type S3Server } from './harness/index.js';

let s3: S3Server;
before(async () => {
  s3 = await startS3();
});
after(() => s3.stop());

const FILES = ['model.json', 'weights.bin', 'optimizer.bin'];

/** A complete checkpoint at `prefix`: its files, then a state.json listing them (with sizes when
 * `withSizes`); returns the trusted root. */
async function writeCheckpoint(
  bucket: string,
  prefix: string,
  withSizes: boolean,
): Promise<CheckpointRoot> {
  const files = [];
  for (const [i, name] of FILES.entries()) {
    const body = `${name}:`.repeat(100 * (i + 1));
    await putObject(s3.client, bucket, `${prefix}${name}`, body);
    files.push(withSizes ? { name, bytes: body.length } : { name });
  }
  const epochs = [epochMetrics(1)];
  const state = JSON.stringify({ trialId: 't', epoch: 1, epochs, files });
  await putObject(s3.client, bucket, `${prefix}${CHECKPOINT_FILES.state}`, state);
  return { epoch: 1, prefix, stateSha256: sha256Hex(new TextEncoder().encode(state)) };
}

async function assertSameObjects(bucket: string, from: string, to: string): Promise<void> {
  for (const name of [...FILES, CHECKPOINT_FILES.state]) {
    const [source, copy] = await Promise.all([
      getObjectBytes(s3.client, bucket, `${from}${name}`),
      getObjectBytes(s3.client, bucket, `${to}${name}`),
    ]);
    assert.equal(sha256Hex(copy.bytes), sha256Hex(source.bytes), name);
  }
}

test('files are copied concurrently without a HEAD each, state.json last', async () => {
  const bucket = await s3.createBucket();
  const root = await writeCheckpoint(bucket, 'donor/ckpt-1/', true);
  const log = s3RequestLog(s3.config);
  const copy = await copyCheckpoint(log.client, bucket, root, 'taker/ckpt-1/');
  assert.deepEqual(copy.root, { ...root, prefix: 'taker/ckpt-1/' });
  assert.deepEqual(
    copy.epochs.map((m) => m.epoch),
    [1],
  );
  assert.deepEqual(log.commandsFor('donor/'), ['GetObjectCommand'], 'only state.json is read');
  const copies = log.events.filter((e) => e.includes('CopyObjectCommand'));
  const fileStarts = copies.slice(0, FILES.length);
  assert.ok(
    fileStarts.every((e) => e.startsWith('start ')),
    `every file's copy starts before any finishes: ${copies.join(' | ')}`,
  );
  const stateCopy = `start CopyObjectCommand taker/ckpt-1/${CHECKPOINT_FILES.state}`;
  const lastFileDone = Math.max(
    ...FILES.map((name) => log.events.indexOf(`done CopyObjectCommand taker/ckpt-1/${name}`)),
  );
  assert.ok(log.events.indexOf(stateCopy) > lastFileDone, 'state.json is copied after the files');
  await assertSameObjects(bucket, 'donor/ckpt-1/', 'taker/ckpt-1/');
});

test('a checkpoint whose state.json records no sizes is copied after a HEAD per file', async () => {
  const bucket = await s3.createBucket();
  const root = await writeCheckpoint(bucket, 'old/ckpt-2/', false);
  const log = s3RequestLog(s3.config);
  await copyCheckpoint(log.client, bucket, root, 'new/ckpt-2/');
  const heads = log.commandsFor('old/').filter((c) => c === 'HeadObjectCommand');
  assert.equal(heads.length, FILES.length);
  await assertSameObjects(bucket, 'old/ckpt-2/', 'new/ckpt-2/');
});

test('a state.json that does not match its root copies nothing', async () => {
  const bucket = await s3.createBucket();
  const root = await writeCheckpoint(bucket, 'donor/ckpt-3/', true);
  await assert.rejects(
    copyCheckpoint(s3.client, bucket, { ...root, stateSha256: '0'.repeat(64) }, 'taker/ckpt-3/'),
    CheckpointCopyError,
  );
  assert.deepEqual(await listKeys(s3.client, bucket, 'taker/'), []);
});
