// Storage boundaries against a real API and real s3rver: datasets and backbone weights only from
// allowed buckets, normalised keys only, a size cap on classes.json, and dataset errors that name
// the object and line but never repeat its content (API at submit, readDataset as workers use it).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  DatasetInvalidError,
  MAX_CLASSES_JSON_BYTES,
  MAX_MANIFEST_LINE_LENGTH,
  putObject,
  readDataset,
} from '@setrain/storage';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, type RedisServer, type S3Server } from './harness/index.js';
import { errorOf, listen, sendWhileProbing } from './security-probe.js';

const API_KEY = 'security-data-key-0123456789';
const AUTH = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const SECRET = 'hunter2-do-not-echo';

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let base: string;
/** A bucket the service's credentials reach but the API is not configured to read data from. */
let privateBucket: string;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  world = await createApiWorld({ redisServer, s3, label: 'security-data', apiKeys: [API_KEY] });
  base = await listen(await world.app());
  privateBucket = await s3.createBucket();
  await putObject(s3.client, privateBucket, 'secrets/classes.json', `["${SECRET}"]`);
  await putObject(s3.client, privateBucket, 'secrets/manifest.jsonl', `{"password":"${SECRET}"}\n`);
});
after(async () => {
  await world.close();
  await Promise.all([redisServer.stop(), s3.stop()]);
});

function spec(extra: Record<string, unknown>): string {
  return JSON.stringify({
    dataset: world.dataset,
    training: { epochs: 1, batchSize: 2 },
    maxTrials: 1,
    ...extra,
  });
}

async function submit(body: string) {
  const answer = await sendWhileProbing(base, '/v1/sweeps', {
    method: 'POST',
    headers: AUTH,
    body,
  });
  assert.ok(answer.status < 500, answer.body);
  assert.ok(answer.slowestHealthz < 1000, `/healthz waited ${answer.slowestHealthz} ms`);
  return { ...answer, error: errorOf(answer.body) };
}

test('a dataset or backbone in a bucket outside SETRAIN_DATA_BUCKETS answers 400 naming the field', async () => {
  const dataset = await submit(spec({ dataset: `s3://${privateBucket}/secrets/manifest.jsonl` }));
  assert.equal(dataset.status, 400);
  assert.equal(dataset.error.code, 'DATA_BUCKET_NOT_ALLOWED');
  assert.equal(dataset.error.issues?.[0]?.path, 'dataset');
  assert.match(dataset.error.message, new RegExp(`allowed buckets: ${world.bucket}`));
  assert.ok(!dataset.body.includes(SECRET));

  const backbone = await submit(
    spec({ model: { backboneWeights: `s3://${privateBucket}/weights/notop.h5` } }),
  );
  assert.equal(backbone.status, 400);
  assert.equal(backbone.error.code, 'DATA_BUCKET_NOT_ALLOWED');
  assert.equal(backbone.error.issues?.[0]?.path, 'model.backboneWeights');
});

test("keys with '..', '.' or empty segments answer 400, whatever the object", async () => {
  for (const key of [
    'datasets/../secrets/manifest.jsonl',
    'datasets/./shapes/manifest.jsonl',
    'datasets//shapes/manifest.jsonl',
  ]) {
    const answer = await submit(spec({ dataset: `s3://${world.bucket}/${key}` }));
    assert.equal(answer.status, 400, key);
    assert.equal(answer.error.code, 'SPEC_INVALID', key);
    assert.equal(answer.error.issues?.[0]?.path, 'dataset');
    assert.match(answer.error.message, /path segment/);
  }
  const backbone = await submit(
    spec({ model: { backboneWeights: `s3://${world.bucket}/weights/../x.h5` } }),
  );
  assert.equal(backbone.status, 400);
  assert.equal(backbone.error.issues?.[0]?.path, 'model.backboneWeights');
});

test('classes.json content never comes back in errors; an oversized one is refused unread', async () => {
  await putObject(s3.client, world.bucket, 'datasets/leaky/manifest.jsonl', '{}\n');
  await putObject(
    s3.client,
    world.bucket,
    'datasets/leaky/classes.json',
    `[1, {"password": "${SECRET}"}]`,
  );
  const leaky = await submit(
    spec({ dataset: `s3://${world.bucket}/datasets/leaky/manifest.jsonl` }),
  );
  assert.equal(leaky.status, 400);
  assert.equal(leaky.error.code, 'DATASET_INVALID');
  assert.match(leaky.body, /classes\.json/);
  assert.ok(!leaky.body.includes(SECRET), leaky.body);

  await putObject(s3.client, world.bucket, 'datasets/notjson/manifest.jsonl', '{}\n');
  await putObject(s3.client, world.bucket, 'datasets/notjson/classes.json', `password=${SECRET}`);
  const notJson = await submit(
    spec({ dataset: `s3://${world.bucket}/datasets/notjson/manifest.jsonl` }),
  );
  assert.equal(notJson.status, 400);
  assert.ok(!notJson.body.includes(SECRET), notJson.body);
  assert.match(notJson.error.issues?.[0]?.message ?? '', /classes\.json: is not valid JSON/);

  await putObject(s3.client, world.bucket, 'datasets/huge/manifest.jsonl', '{}\n');
  await putObject(
    s3.client,
    world.bucket,
    'datasets/huge/classes.json',
    `[${'"x",'.repeat(MAX_CLASSES_JSON_BYTES / 4)}"y"]`,
  );
  const huge = await submit(spec({ dataset: `s3://${world.bucket}/datasets/huge/manifest.jsonl` }));
  assert.equal(huge.status, 400);
  assert.equal(huge.error.code, 'DATASET_INVALID');
  assert.match(huge.body, new RegExp(`at most ${MAX_CLASSES_JSON_BYTES}`));
});

test('manifest problems name the object and line, never the line; long lines are refused', async () => {
  const prefix = 'datasets/leaky-manifest';
  await putObject(s3.client, world.bucket, `${prefix}/classes.json`, '["cat"]');
  await putObject(
    s3.client,
    world.bucket,
    `${prefix}/manifest.jsonl`,
    [
      `{"password": "${SECRET}"}`,
      `{"key": "a.jpg", "labels": ["${SECRET}"]}`,
      `{"key": {"${SECRET}": 1}, "labels": ["cat"]}`,
      `${SECRET} not json`,
      `{"key": "b.jpg", "labels": ["cat"], "pad": "${'z'.repeat(MAX_MANIFEST_LINE_LENGTH)}"}`,
      '{"key": "ok.jpg", "labels": ["cat"]}',
    ].join('\n'),
  );
  const uri = `s3://${world.bucket}/${prefix}/manifest.jsonl`;
  await assert.rejects(readDataset(s3.client, uri), (error: unknown) => {
    assert.ok(error instanceof DatasetInvalidError);
    assert.ok(!error.message.includes(SECRET), error.message);
    assert.deepEqual([...new Set(error.issues.map((issue) => issue.line))], [1, 2, 3, 4, 5]);
    assert.ok(error.issues.every((issue) => issue.source === uri));
    assert.match(error.message, /line 5: is \d+ characters long; lines may be at most 4096/);
    return true;
  });
});
