// Dataset manifests in a real S3 server (s3rver): write, read back, and the errors users see.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  datasetImageKey,
  DatasetInvalidError,
  putObject,
  readDataset,
  S3ObjectNotFoundError,
  S3UriInvalidError,
  writeDataset,
} from '@setrain/storage';
import { startS3, type S3Server } from '../../../test/harness/index.js';

let s3: S3Server;
before(async () => {
  s3 = await startS3();
});
after(() => s3.stop());

test('writeDataset then readDataset round-trips classes, entries and the manifest ETag', async () => {
  const bucket = await s3.createBucket();
  const written = await writeDataset(s3.client, bucket, 'datasets/pets', {
    classes: ['cat', 'dog', 'outdoor'],
    entries: [
      { key: 'images/0001.jpg', labels: ['cat', 'outdoor'] },
      { key: 'images/0002.jpg', labels: ['dog'] },
    ],
  });
  assert.equal(written.manifestUri, `s3://${bucket}/datasets/pets/manifest.jsonl`);
  assert.equal(written.classesUri, `s3://${bucket}/datasets/pets/classes.json`);
  const dataset = await readDataset(s3.client, written.manifestUri);
  assert.deepEqual(dataset.classes, ['cat', 'dog', 'outdoor']);
  assert.equal(dataset.entries.length, 2);
  assert.equal(dataset.multiLabel, true);
  assert.equal(dataset.manifestEtag, written.manifestEtag);
  assert.equal(dataset.prefix, 'datasets/pets');
  assert.equal(dataset.bucket, bucket);
  const [first] = dataset.entries;
  assert.ok(first);
  assert.equal(datasetImageKey(dataset, first), 'datasets/pets/images/0001.jpg');
  // The same location given parsed reads the same dataset.
  const again = await readDataset(s3.client, { bucket, key: 'datasets/pets/manifest.jsonl' });
  assert.deepEqual(again.entries, dataset.entries);
});

test('writeDataset refuses what readDataset would reject, before writing anything', async () => {
  const bucket = await s3.createBucket();
  await assert.rejects(
    writeDataset(s3.client, bucket, 'datasets/bad', {
      classes: ['cat'],
      entries: [{ key: 'a.jpg', labels: ['dog'] }],
    }),
    (error: unknown) =>
      error instanceof DatasetInvalidError &&
      /manifest\.jsonl line 1: label 1 is not in classes\.json/.test(error.message),
  );
  await assert.rejects(
    readDataset(s3.client, `s3://${bucket}/datasets/bad/manifest.jsonl`),
    S3ObjectNotFoundError,
  );
});

test('readDataset reports a broken manifest line by line, naming the object', async () => {
  const bucket = await s3.createBucket();
  await putObject(s3.client, bucket, 'datasets/d/classes.json', '["cat","dog"]');
  await putObject(
    s3.client,
    bucket,
    'datasets/d/manifest.jsonl',
    '{"key":"a.jpg","labels":["cat"]}\nnot json\n{"key":"a.jpg","labels":["dog"]}\n',
  );
  const uri = `s3://${bucket}/datasets/d/manifest.jsonl`;
  await assert.rejects(readDataset(s3.client, uri), (error: unknown) => {
    assert.ok(error instanceof DatasetInvalidError);
    assert.deepEqual(
      error.issues.map((issue) => [issue.source, issue.line]),
      [
        [uri, 2],
        [uri, 3],
      ],
    );
    assert.match(error.message, new RegExp(`${uri} line 2: is not valid JSON`));
    assert.match(error.message, /line 3: repeats the "key" of line 1/);
    return true;
  });
});

test('readDataset: a missing classes.json is a dataset problem; a bad URI is a URI problem', async () => {
  const bucket = await s3.createBucket();
  await putObject(s3.client, bucket, 'datasets/e/manifest.jsonl', '{"key":"a","labels":["x"]}\n');
  await assert.rejects(
    readDataset(s3.client, `s3://${bucket}/datasets/e/manifest.jsonl`),
    (error: unknown) =>
      error instanceof DatasetInvalidError &&
      error.message.includes(
        `s3://${bucket}/datasets/e/classes.json: classes.json not found next to the manifest`,
      ),
  );
  await putObject(s3.client, bucket, 'datasets/e/classes.json', '{"x": 0}');
  await assert.rejects(
    readDataset(s3.client, `s3://${bucket}/datasets/e/manifest.jsonl`),
    /classes\.json: must be a JSON array of class names/,
  );
  await assert.rejects(readDataset(s3.client, 'datasets/e/manifest.jsonl'), S3UriInvalidError);
});
