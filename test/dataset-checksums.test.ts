/**
 * readDataset (what the worker and the API read a dataset with) against a real S3 server
 * (s3rver): classes.json and manifest.jsonl are checked against their sha256 metadata, so bytes
 * damaged or replaced behind the metadata fail naming the object instead of training on another
 * class list; bytes that are not UTF-8 fail naming the object too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { datasetKeys } from '@setrain/protocol';
import { DatasetInvalidError, readDataset, sha256Hex, writeDataset } from '@setrain/storage';

import { startS3, type S3Server } from './harness/index.js';

let s3: S3Server;
before(async () => {
  s3 = await startS3();
});
after(() => s3.stop());

async function writePets(bucket: string): Promise<string> {
  const written = await writeDataset(s3.client, bucket, 'datasets/pets', {
    classes: ['cat', 'dog'],
    entries: [
      { key: 'images/1.png', labels: ['cat'] },
      { key: 'images/2.png', labels: ['dog'] },
    ],
  });
  return written.manifestUri;
}

/** Overwrites an object with `body` and the given metadata, as a damaged or foreign write would. */
async function overwrite(
  bucket: string,
  key: string,
  body: string | Uint8Array,
  metadata: Record<string, string>,
): Promise<void> {
  await s3.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }),
  );
}

test('classes.json whose bytes no longer match its sha256 metadata fails naming it', async () => {
  const bucket = await s3.createBucket();
  const manifestUri = await writePets(bucket);
  const keys = datasetKeys('datasets/pets');
  // Same length, classes swapped: without the check every label would train the wrong output.
  const original = '["cat","dog"]\n';
  await overwrite(bucket, keys.classes, '["dog","cat"]\n', { sha256: sha256Hex(original) });
  await assert.rejects(readDataset(s3.client, manifestUri), (error: unknown) => {
    assert.ok(error instanceof DatasetInvalidError);
    assert.match(
      error.message,
      new RegExp(
        `s3://${bucket}/datasets/pets/classes\\.json: has sha256 [0-9a-f]{64}, but its sha256 metadata says ${sha256Hex(original)}`,
      ),
    );
    return true;
  });
});

test('a manifest that is not UTF-8 fails naming it; one without metadata is read unchecked', async () => {
  const bucket = await s3.createBucket();
  const manifestUri = await writePets(bucket);
  const keys = datasetKeys('datasets/pets');
  await overwrite(bucket, keys.manifest, Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d), {});
  await assert.rejects(
    readDataset(s3.client, manifestUri),
    new RegExp(`s3://${bucket}/datasets/pets/manifest\\.jsonl: is not valid UTF-8 text`),
  );
  // A manifest written by other tools (no sha256 metadata) is still read.
  await overwrite(bucket, keys.manifest, '{"key":"images/2.png","labels":["dog"]}\n', {});
  const dataset = await readDataset(s3.client, manifestUri);
  assert.deepEqual(dataset.entries, [{ key: 'images/2.png', labels: ['dog'] }]);
});
