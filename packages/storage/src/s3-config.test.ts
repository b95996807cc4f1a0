import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3ConfigInvalidError } from './errors/s3-config-invalid-error.js';
import { createS3Client, toS3ClientConfig, type S3Config } from './s3-config.js';

test('toS3ClientConfig defaults for S3-compatible servers', () => {
  const config = toS3ClientConfig({
    endpoint: 'http://127.0.0.1:9000',
    accessKeyId: 'a',
    secretAccessKey: 'b',
  });
  assert.equal(config.region, 'us-east-1');
  assert.equal(config.forcePathStyle, true);
  assert.equal(config.requestChecksumCalculation, 'WHEN_REQUIRED');
  assert.equal(config.responseChecksumValidation, 'WHEN_REQUIRED');
  assert.deepEqual(config.credentials, { accessKeyId: 'a', secretAccessKey: 'b' });
  assert.equal(config.maxAttempts, 3);
});

test('toS3ClientConfig for AWS: virtual-hosted style, default credential chain', () => {
  const config = toS3ClientConfig({
    region: 'eu-west-1',
    requestChecksumCalculation: 'WHEN_SUPPORTED',
  });
  assert.equal(config.forcePathStyle, false);
  assert.equal(config.region, 'eu-west-1');
  assert.equal(config.credentials, undefined);
  assert.equal(config.endpoint, undefined);
  assert.equal(config.requestChecksumCalculation, 'WHEN_SUPPORTED');
});

test('toS3ClientConfig rejects fields the SDK would reject late, naming the field', () => {
  const cases: [S3Config, string, RegExp][] = [
    [{ endpoint: 'not a url' }, 'endpoint', /is not a URL/],
    [{ endpoint: 'ftp://x' }, 'endpoint', /use one of http:, https:/],
    [{ accessKeyId: 'a' }, 'secretAccessKey', /must be given together/],
    [
      { requestChecksumCalculation: 'ALWAYS' as never },
      'requestChecksumCalculation',
      /not one of WHEN_REQUIRED, WHEN_SUPPORTED/,
    ],
    [{ maxAttempts: 0 }, 'maxAttempts', /integer >= 1/],
  ];
  for (const [config, field, message] of cases) {
    assert.throws(
      () => createS3Client(config),
      (error: unknown) =>
        error instanceof S3ConfigInvalidError &&
        error.code === 'S3_CONFIG_INVALID' &&
        error.field === field &&
        message.test(error.message),
      field,
    );
  }
});
