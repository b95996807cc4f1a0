// @setrain/storage against a real S3 server (s3rver) that test/harness starts. This folder is a
// project of its own (./tsconfig.json) because the package's own (rootDir src) cannot include
// the harness.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ChecksumMismatchError,
  copyObject,
  deletePrefix,
  downloadToFile,
  downloadVerifiedBytes,
  getJson,
  getObjectBytes,
  getObjectText,
  headObject,
  listKeys,
  listObjects,
  presignGetUrl,
  putObject,
  S3BucketNotFoundError,
  S3ObjectJsonInvalidError,
  S3ObjectNotFoundError,
  S3ObjectTooLargeError,
  sha256Hex,
  uploadFile,
  uploadLarge,
  MAX_COPY_OBJECT_BYTES,
  MIN_PART_SIZE_BYTES,
  S3CopySourceTooLargeError,
} from '@setrain/storage';
import { startS3, tempDir, type S3Server, type TempDir } from '../../../test/harness/index.js';
import { recordingClient } from './recording-client.js';

let s3: S3Server;
let files: TempDir;
before(async () => {
  s3 = await startS3();
  files = await tempDir('storage-objects');
});
after(async () => {
  await s3.stop();
  await files.cleanup();
});

/** Deterministic pseudo-random bytes (xorshift32), so multipart parts differ from each other. */
function patternBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

test('putObject stores bytes with content type and sha256 metadata; get/head read them back', async () => {
  const bucket = await s3.createBucket();
  const put = await putObject(s3.client, bucket, 'a/b.json', '{"x": 1}', {
    contentType: 'application/json',
    metadata: { purpose: 'test' },
  });
  assert.equal(put.sha256, sha256Hex('{"x": 1}'));
  assert.equal(put.size, 8);
  assert.match(put.etag, /^[0-9a-f]{32}$/); // unquoted
  const head = await headObject(s3.client, bucket, 'a/b.json');
  assert.equal(head?.sha256, put.sha256);
  assert.equal(head?.etag, put.etag);
  assert.equal(head?.contentType, 'application/json');
  assert.equal(head?.metadata['purpose'], 'test');
  assert.equal(head?.size, 8);
  const bytes = await getObjectBytes(s3.client, bucket, 'a/b.json');
  assert.equal(Buffer.from(bytes.bytes).toString(), '{"x": 1}');
  assert.equal((await getObjectText(s3.client, bucket, 'a/b.json')).text, '{"x": 1}');
  const json = await getJson(s3.client, bucket, 'a/b.json', {
    parse: (value) => value as { x: number },
  });
  assert.equal(json.value.x, 1);
  assert.equal(json.etag, put.etag);
});

test('missing objects and buckets raise typed errors naming them; headObject gives undefined', async () => {
  const bucket = await s3.createBucket();
  assert.equal(await headObject(s3.client, bucket, 'nope'), undefined);
  await assert.rejects(
    getObjectBytes(s3.client, bucket, 'nope/x.bin'),
    (error: unknown) =>
      error instanceof S3ObjectNotFoundError &&
      error.code === 'S3_OBJECT_NOT_FOUND' &&
      error.message === `S3 object not found: s3://${bucket}/nope/x.bin`,
  );
  await assert.rejects(
    getObjectBytes(s3.client, 'no-such-bucket-setrain', 'x'),
    (error: unknown) =>
      error instanceof S3BucketNotFoundError && /no-such-bucket-setrain/.test(error.message),
  );
  await putObject(s3.client, bucket, 'bad.json', '{oops');
  await assert.rejects(
    getJson(s3.client, bucket, 'bad.json'),
    (error: unknown) =>
      error instanceof S3ObjectJsonInvalidError &&
      error.message.startsWith(`s3://${bucket}/bad.json is not valid JSON`),
  );
});

test('putObject refuses bytes that do not match a given sha256', async () => {
  const bucket = await s3.createBucket();
  await assert.rejects(
    putObject(s3.client, bucket, 'x', 'abc', { sha256: '0'.repeat(64) }),
    ChecksumMismatchError,
  );
  assert.equal(await headObject(s3.client, bucket, 'x'), undefined);
});

test('uploadLarge goes multipart above the part size and the bytes round-trip', async () => {
  const bucket = await s3.createBucket();
  const body = patternBytes(2 * MIN_PART_SIZE_BYTES + 12_345);
  const progress: number[] = [];
  const { client, commands } = recordingClient(s3.config);
  const put = await uploadLarge(client, bucket, 'big/weights.bin', body, {
    partSizeBytes: MIN_PART_SIZE_BYTES,
    onProgress: (loaded) => progress.push(loaded),
  });
  assert.deepEqual(commands.sort(), [
    'CompleteMultipartUploadCommand',
    'CreateMultipartUploadCommand',
    'UploadPartCommand',
    'UploadPartCommand',
    'UploadPartCommand',
  ]);
  assert.equal(put.sha256, sha256Hex(body));
  assert.equal(progress.at(-1), body.byteLength);
  const head = await headObject(s3.client, bucket, 'big/weights.bin');
  assert.equal(head?.sha256, sha256Hex(body));
  const got = await getObjectBytes(s3.client, bucket, 'big/weights.bin');
  assert.equal(got.bytes.byteLength, body.byteLength);
  assert.ok(Buffer.from(got.bytes).equals(Buffer.from(body)));
});

test('copyObject copies bytes, content type and sha256 metadata server-side; missing sources are typed', async () => {
  const bucket = await s3.createBucket();
  // Multipart at the source (its ETag is not an MD5): the copy must not care how it was written.
  // The space checks the copy source's encoding; not a '+': s3rver decodes it with decodeURI.
  const body = patternBytes(MIN_PART_SIZE_BYTES + 1000, 5);
  const put = await uploadLarge(s3.client, bucket, 'final/a b.bin', body, {
    partSizeBytes: MIN_PART_SIZE_BYTES,
    contentType: 'application/octet-stream',
  });
  const { client, commands } = recordingClient(s3.config);
  await copyObject(client, bucket, 'final/a b.bin', 'best/a b.bin');
  await copyObject(client, bucket, 'final/a b.bin', 'best/known.bin', { sourceBytes: put.size });
  // Without a known size it asks for it first; with one it sends the copy alone.
  assert.deepEqual(commands, ['HeadObjectCommand', 'CopyObjectCommand', 'CopyObjectCommand']);
  for (const key of ['best/a b.bin', 'best/known.bin']) {
    const copy = await getObjectBytes(s3.client, bucket, key);
    assert.equal(sha256Hex(copy.bytes), put.sha256);
    assert.equal(copy.sha256, put.sha256);
    assert.equal(copy.contentType, 'application/octet-stream');
  }
  await assert.rejects(
    copyObject(s3.client, bucket, 'final/missing.bin', 'best/missing.bin'),
    (error: unknown) => error instanceof S3ObjectNotFoundError && error.key === 'final/missing.bin',
  );
  assert.equal(await headObject(s3.client, bucket, 'best/missing.bin'), undefined);
});

test('copyObject refuses a source above 5 GiB before sending anything', async () => {
  const bucket = await s3.createBucket();
  const { client, commands } = recordingClient(s3.config);
  const size = MAX_COPY_OBJECT_BYTES + 1;
  await assert.rejects(
    copyObject(client, bucket, 'final/huge.bin', 'best/huge.bin', { sourceBytes: size }),
    (error: unknown) =>
      error instanceof S3CopySourceTooLargeError &&
      error.code === 'S3_COPY_SOURCE_TOO_LARGE' &&
      error.size === size &&
      error.message.includes(`s3://${bucket}/final/huge.bin is ${size} bytes`),
  );
  assert.deepEqual(commands, []);
  assert.equal(MAX_COPY_OBJECT_BYTES, 5 * 1024 * 1024 * 1024);
});

test('streams upload multipart, hashed on the way; a given sha256 is stored and checked', async () => {
  const bucket = await s3.createBucket();
  const body = patternBytes(MIN_PART_SIZE_BYTES + 1000, 7);
  const chunks = Array.from({ length: 11 }, (_, i) =>
    body.subarray(Math.floor((i * body.length) / 11), Math.floor(((i + 1) * body.length) / 11)),
  );
  const put = await putObject(s3.client, bucket, 'stream.bin', Readable.from(chunks), {
    sha256: sha256Hex(body),
  });
  assert.equal(put.sha256, sha256Hex(body));
  assert.equal(put.size, body.byteLength);
  assert.equal((await headObject(s3.client, bucket, 'stream.bin'))?.sha256, sha256Hex(body));
  // A wrong sha256 for a stream is caught after the upload, and the object is removed.
  await assert.rejects(
    putObject(s3.client, bucket, 'wrong.bin', Readable.from([Buffer.from('abc')]), {
      sha256: '1'.repeat(64),
    }),
    ChecksumMismatchError,
  );
  assert.equal(await headObject(s3.client, bucket, 'wrong.bin'), undefined);
});

test('uploadFile and downloadToFile round-trip a file and verify its sha256', async () => {
  const bucket = await s3.createBucket();
  const source = join(files.path, 'src.bin');
  const body = patternBytes(MIN_PART_SIZE_BYTES + 3, 3);
  await writeFile(source, body);
  const { client, commands } = recordingClient(s3.config);
  await uploadFile(client, bucket, 'f/src.bin', source, { partSizeBytes: MIN_PART_SIZE_BYTES });
  assert.equal(commands.filter((name) => name === 'UploadPartCommand').length, 2);
  const target = join(files.path, 'dst.bin');
  const download = await downloadToFile(s3.client, bucket, 'f/src.bin', target);
  assert.equal(download.verified, true);
  assert.equal(download.sha256, createHash('sha256').update(body).digest('hex'));
  assert.ok((await readFile(target)).equals(Buffer.from(body)));
  // An object whose metadata lies about its sha256 fails verification and leaves no file behind.
  await putObject(s3.client, bucket, 'plain.txt', 'hello');
  await assert.rejects(
    downloadToFile(s3.client, bucket, 'plain.txt', join(files.path, 'bad.txt'), {
      expectedSha256: 'f'.repeat(64),
    }),
    (error: unknown) =>
      error instanceof ChecksumMismatchError && error.uri === `s3://${bucket}/plain.txt`,
  );
  await assert.rejects(readFile(join(files.path, 'bad.txt')), { code: 'ENOENT' });
  await assert.rejects(readFile(join(files.path, 'bad.txt.partial')), { code: 'ENOENT' });
  // An unwritable target fails with the file system's error, and the client stays usable.
  await assert.rejects(
    downloadToFile(s3.client, bucket, 'plain.txt', join(files.path, 'no-dir', 'x.txt')),
    { code: 'ENOENT' },
  );
  assert.equal((await getObjectText(s3.client, bucket, 'plain.txt')).text, 'hello');
});

test('downloadVerifiedBytes reads an object into memory, checked against its sha256 metadata', async () => {
  const bucket = await s3.createBucket();
  const body = patternBytes(4096, 5);
  await putObject(s3.client, bucket, 'img.bin', body);
  const got = await downloadVerifiedBytes(s3.client, bucket, 'img.bin');
  assert.equal(got.verified, true);
  assert.equal(got.size, body.byteLength);
  assert.equal(got.sha256, sha256Hex(body));
  assert.ok(Buffer.from(got.bytes).equals(Buffer.from(body)));
  // Metadata that lies about the bytes (a bit flip at rest) fails; an expected hash overrides it.
  await s3.client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'flipped.bin',
      Body: body,
      Metadata: { sha256: 'e'.repeat(64) },
    }),
  );
  await assert.rejects(
    downloadVerifiedBytes(s3.client, bucket, 'flipped.bin'),
    (error: unknown) =>
      error instanceof ChecksumMismatchError &&
      error.uri === `s3://${bucket}/flipped.bin` &&
      error.expectedSha256 === 'e'.repeat(64),
  );
  const trusted = await downloadVerifiedBytes(s3.client, bucket, 'flipped.bin', {
    expectedSha256: sha256Hex(body),
  });
  assert.equal(trusted.verified, true);
  // Without metadata (another uploader) the bytes are hashed but not checked.
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'bare.bin', Body: body }));
  const bare = await downloadVerifiedBytes(s3.client, bucket, 'bare.bin');
  assert.deepEqual([bare.verified, bare.sha256], [false, sha256Hex(body)]);
  // Over the read limit: refused from the response's length, before the body is read.
  await assert.rejects(
    downloadVerifiedBytes(s3.client, bucket, 'img.bin', { maxBytes: 100 }),
    (error: unknown) => error instanceof S3ObjectTooLargeError && error.size === body.byteLength,
  );
});

test('listObjects pages through a prefix; deletePrefix removes only that prefix', async () => {
  const bucket = await s3.createBucket();
  const keys = Array.from({ length: 23 }, (_, i) => `runs/r1/${String(i).padStart(3, '0')}.txt`);
  await Promise.all(keys.map((key) => putObject(s3.client, bucket, key, key)));
  await putObject(s3.client, bucket, 'runs/r2/keep.txt', 'keep');
  const listed: string[] = [];
  for await (const object of listObjects(s3.client, bucket, 'runs/r1/', { pageSize: 5 })) {
    listed.push(object.key);
    assert.equal(object.size, object.key.length);
  }
  assert.deepEqual(listed, keys);
  assert.equal(await deletePrefix(s3.client, bucket, 'runs/r1/'), 23);
  assert.deepEqual(await listKeys(s3.client, bucket, 'runs/'), ['runs/r2/keep.txt']);
  await assert.rejects(deletePrefix(s3.client, bucket, ''), /allowEntireBucket/);
});

test('presignGetUrl gives a URL that plain fetch can download', async () => {
  const bucket = await s3.createBucket();
  await putObject(s3.client, bucket, 'best/model.json', '{"ok":true}');
  const url = await presignGetUrl(s3.client, bucket, 'best/model.json', {
    expiresInSeconds: 60,
    downloadFileName: 'model.json',
  });
  assert.match(url, /X-Amz-Signature=/);
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), '{"ok":true}');
  await assert.rejects(
    presignGetUrl(s3.client, bucket, 'x', { expiresInSeconds: 8 * 24 * 3600 }),
    RangeError,
  );
});
