import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3UriInvalidError } from './errors/s3-uri-invalid-error.js';
import { joinKey, parseS3UriOrThrow } from './s3-uri.js';

test('parseS3UriOrThrow splits bucket and key', () => {
  assert.deepEqual(parseS3UriOrThrow('s3://my-bucket/datasets/a/manifest.jsonl'), {
    bucket: 'my-bucket',
    key: 'datasets/a/manifest.jsonl',
  });
  assert.deepEqual(parseS3UriOrThrow('s3://my.bucket/', { allowEmptyKey: true }), {
    bucket: 'my.bucket',
    key: '',
  });
  assert.deepEqual(parseS3UriOrThrow('s3://abc', { allowEmptyKey: true }), {
    bucket: 'abc',
    key: '',
  });
});

test('parseS3UriOrThrow says what is wrong with a bad URI', () => {
  const cases: [string, RegExp][] = [
    ['https://bucket/key', /does not start with s3:\/\//],
    ['s3:///key', /bucket name is empty/],
    ['s3://Bad_Bucket/key', /"Bad_Bucket" is not a valid bucket name/],
    ['s3://ab/key', /"ab" is not a valid bucket name/],
    ['s3://a..b/key', /not a valid bucket name/],
    ['s3://bucket', /object key is empty/],
    ['s3://bucket/', /object key is empty/],
  ];
  for (const [uri, message] of cases) {
    assert.throws(
      () => parseS3UriOrThrow(uri),
      (error: unknown) =>
        error instanceof S3UriInvalidError &&
        error.code === 'S3_URI_INVALID' &&
        error.uri === uri &&
        message.test(error.message),
      uri,
    );
  }
});

test('joinKey joins with single slashes and drops empty segments', () => {
  assert.equal(joinKey('runs/', '/a', 'b.json'), 'runs/a/b.json');
  assert.equal(joinKey('', 'x'), 'x');
  assert.equal(joinKey('a//', '', '/b/'), 'a/b');
});
