/**
 * The worker's data path against real services (redis-server, s3rver, a worker forking trial
 * processes): image limits (a PNG bomb, an oversize object), the bounded content-addressed image
 * cache and the decoded-image cache shared across trials.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { datasetKeys } from '@setrain/protocol';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ChecksumMismatchError, putObject, sha256Hex } from '@setrain/storage';
import { ImageCache, prepareData } from '@setrain/worker';

import { pngBomb } from './fixtures/image-bombs.js';
import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import { useWorkerTestFile } from './fixtures/worker-services.js';

/** The worker under test refuses objects over 64 KiB (the shapes images are ~2-4 KB). */
const MAX_BYTES = 64 * 1024;

const worker = useWorkerTestFile({
  label: 'worker-data',
  env: { SETRAIN_IMAGE_MAX_BYTES: String(MAX_BYTES) },
});

/** Uploads a 4-image shapes dataset whose image `key` is replaced by `body`; returns its manifest. */
async function datasetWith(name: string, key: string, body: Buffer): Promise<string> {
  const data = await uploadShapesDataset(
    worker.services.s3.client,
    worker.services.bucket,
    `datasets/${name}`,
    {
      count: 4,
    },
  );
  await putObject(
    worker.services.s3.client,
    worker.services.bucket,
    datasetKeys(`datasets/${name}`).image(key),
    body,
  );
  return data.manifestUri;
}

test('a PNG bomb fails its trial at once with a dataset error naming it; the worker stays up', async () => {
  const bomb = pngBomb(20_000, 20_000);
  assert.ok(bomb.length < 100_000, `the bomb is a small file (${bomb.length} bytes)`);
  const dataset = await datasetWith('bomb', 'images/0002.jpg', bomb);
  const { message, job } = await worker.failingTrial({ dataset });
  assert.match(
    message,
    new RegExp(
      `IMAGE_TOO_LARGE: image s3://${worker.services.bucket}/datasets/bomb/images/0002\\.jpg is 20000x20000`,
    ),
  );
  assert.match(message, /SETRAIN_IMAGE_MAX_PIXELS/);
  assert.equal(job.attemptsMade, 1, 'a dataset error is not retried');
  assert.equal(worker.runtime.worker.isRunning(), true);
});

test('an object over the byte limit fails its trial, naming it, and is never cached', async () => {
  const dataset = await datasetWith('oversize', 'images/0003.jpg', randomBytes(MAX_BYTES + 1));
  const { message, job } = await worker.failingTrial({ dataset });
  assert.match(
    message,
    new RegExp(
      `IMAGE_TOO_LARGE: image s3://${worker.services.bucket}/datasets/oversize/images/0003\\.jpg is ${MAX_BYTES + 1} bytes`,
    ),
  );
  assert.equal(job.attemptsMade, 1);
  assert.equal(worker.runtime.worker.isRunning(), true);
  const cached = await filesUnder(join(worker.services.cache.path, 'worker', 'objects'));
  assert.ok(cached.every((file) => file.size <= MAX_BYTES));
});

async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const path = join(entry.parentPath, entry.name);
        return { path, size: (await stat(path)).size };
      }),
  );
}

/** Images are read into memory up to `inMemoryMaxBytes` (default), streamed to a file above it. */
const DOWNLOAD_MODES = [
  { mode: 'into memory', inMemoryMaxBytes: undefined },
  { mode: 'streamed to a file', inMemoryMaxBytes: 0 },
] as const;

for (const { mode, inMemoryMaxBytes } of DOWNLOAD_MODES) {
  const name = mode.split(' ').at(-1) ?? mode;
  test(`the image cache (downloads ${mode}) is content-addressed and evicts the least recently used at its budget`, async () => {
    await contentAddressedAndBounded(`evict-${name}`, inMemoryMaxBytes);
  });

  test(`the image cache (downloads ${mode}) caches nothing whose bytes fail their sha256 or outgrew the limit`, async () => {
    const prefix = `datasets/corrupt-${name}`;
    const data = await uploadShapesDataset(
      worker.services.s3.client,
      worker.services.bucket,
      prefix,
      { count: 2 },
    );
    const keys = datasetKeys(prefix);
    const dir = join(worker.services.cache.path, `corrupt-${name}`);
    const imageCache = new ImageCache(worker.services.s3.client, {
      dir,
      limits: { maxBytes: MAX_BYTES, maxPixels: 1e6 },
      ...(inMemoryMaxBytes !== undefined ? { inMemoryMaxBytes } : {}),
    });
    const first = data.images[0] ?? assert.fail();
    // Stored with the sha256 of other bytes: what a bit flip at rest looks like to the reader.
    const wrongKey = keys.image('wrong-sha.jpg');
    await worker.services.s3.client.send(
      new PutObjectCommand({
        Bucket: worker.services.bucket,
        Key: wrongKey,
        Body: first.bytes,
        Metadata: { sha256: '0'.repeat(64) },
      }),
    );
    await assert.rejects(
      imageCache.get({
        bucket: worker.services.bucket,
        key: wrongKey,
        etag: 'e1',
        size: first.bytes.length,
      }),
      (error: unknown) => error instanceof ChecksumMismatchError && error.uri.endsWith(wrongKey),
    );
    // Listed small, replaced by more than the limit before it was read.
    const grownKey = keys.image('grown.jpg');
    await putObject(
      worker.services.s3.client,
      worker.services.bucket,
      grownKey,
      randomBytes(MAX_BYTES + 1),
    );
    await assert.rejects(
      imageCache.get({ bucket: worker.services.bucket, key: grownKey, etag: 'e2', size: 10 }),
      (error: Error & { code?: string }) =>
        error.code === 'IMAGE_TOO_LARGE' && error.message.includes(`${MAX_BYTES + 1} bytes`),
    );
    assert.deepEqual(await filesUnder(dir), [], 'no object, index or temporary file is left');
    // The good image still comes, decodable from what get() hands back.
    const good = await imageCache.get({
      bucket: worker.services.bucket,
      key: keys.image(first.key),
      etag: 'e3',
      size: first.bytes.length,
    });
    assert.equal(good.downloaded, true);
    assert.deepEqual(await readFile(good.path), Buffer.from(first.bytes));
    if (good.bytes !== undefined) assert.deepEqual(Buffer.from(good.bytes), first.bytes);
    assert.equal(good.bytes !== undefined, inMemoryMaxBytes === undefined);
  });

  test(`the image cache (downloads ${mode}) leaves no temporary file when its write fails`, async () => {
    const prefix = `datasets/unwritable-${name}`;
    const data = await uploadShapesDataset(
      worker.services.s3.client,
      worker.services.bucket,
      prefix,
      { count: 1 },
    );
    const image = data.images[0] ?? assert.fail();
    const dir = join(worker.services.cache.path, `unwritable-${name}`);
    const imageCache = new ImageCache(worker.services.s3.client, {
      dir,
      ...(inMemoryMaxBytes !== undefined ? { inMemoryMaxBytes } : {}),
    });
    // A directory where the image's file goes: the rename into place fails, as a full disk would.
    const blocked = imageCache.pathOf(sha256Hex(image.bytes));
    await mkdir(join(blocked, 'occupied'), { recursive: true });
    await assert.rejects(
      imageCache.get({
        bucket: worker.services.bucket,
        key: datasetKeys(prefix).image(image.key),
        etag: 'e1',
        size: image.bytes.length,
      }),
      (error: NodeJS.ErrnoException) => error.code !== undefined,
    );
    const left = await readdir(dir, { recursive: true });
    assert.deepEqual(
      left.filter((entry) => /\.(tmp|partial)$/.test(entry)),
      [],
      'no temporary file is left',
    );
  });
}

async function contentAddressedAndBounded(
  name: string,
  inMemoryMaxBytes: number | undefined,
): Promise<void> {
  const data = await uploadShapesDataset(
    worker.services.s3.client,
    worker.services.bucket,
    `datasets/${name}`,
    {
      count: 8,
    },
  );
  const keys = datasetKeys(`datasets/${name}`);
  const sizes = data.images.map((image) => image.bytes.length);
  // Room for about three images.
  const budget = Math.max(...sizes) * 3;
  const dir = join(worker.services.cache.path, name);
  const imageCache = new ImageCache(worker.services.s3.client, {
    dir,
    maxBytes: budget,
    ...(inMemoryMaxBytes !== undefined ? { inMemoryMaxBytes } : {}),
  });
  const requests = data.images.map((image) => ({
    bucket: worker.services.bucket,
    key: keys.image(image.key),
    etag: 'listed-etag-' + image.key,
    size: image.bytes.length,
  }));
  const got = [];
  const total = async (): Promise<number> =>
    (await filesUnder(join(dir, 'objects'))).reduce((sum, file) => sum + file.size, 0);
  for (const request of requests) {
    got.push(await imageCache.get(request));
    // Bounded while it fills, not only afterwards.
    assert.ok((await total()) <= budget, `${await total()} bytes cached, budget ${budget}`);
  }
  assert.ok(got.every((image) => image.downloaded));
  const report = await imageCache.evict();
  assert.equal(report.bytes, await total());
  const left = await filesUnder(join(dir, 'objects'));
  assert.ok(left.length <= 3 && left.length < got.length, `${left.length} images left`);
  // The most recent stayed (a hit, nothing downloaded); the oldest was evicted and comes back.
  const last = got.at(-1);
  assert.ok(last && left.some((file) => file.path === last.path));
  assert.equal((await imageCache.get(requests.at(-1) ?? assert.fail())).downloaded, false);
  assert.equal((await imageCache.get(requests[0] ?? assert.fail())).downloaded, true);
  // Named by the sha256 of the bytes: the same bytes under another key are one file.
  const copyKey = keys.image('copy-of-last.jpg');
  await putObject(
    worker.services.s3.client,
    worker.services.bucket,
    copyKey,
    data.images.at(-1)?.bytes ?? assert.fail(),
  );
  const copy = await imageCache.get({ ...(requests.at(-1) ?? assert.fail()), key: copyKey });
  assert.equal(copy.path, last.path);
}

test('decoded images are shared: a second trial on the machine downloads and decodes nothing', async () => {
  const data = await uploadShapesDataset(
    worker.services.s3.client,
    worker.services.bucket,
    'datasets/decoded',
    {
      count: 6,
    },
  );
  const request = {
    datasetUri: data.manifestUri,
    baseSize: 86,
    validationSplit: 0.25,
    seed: 1,
    cacheDir: join(worker.services.cache.path, 'shared'),
    downloadConcurrency: 4,
  };
  const first = await prepareData(worker.services.s3.client, request);
  const second = await prepareData(worker.services.s3.client, request);
  try {
    assert.deepEqual([first.downloaded, first.images.built], [6, true]);
    assert.deepEqual([second.downloaded, second.cached, second.images.built], [0, 6, false]);
    assert.deepEqual(await second.images.read(5), await first.images.read(5));
    // Another input size decodes again, from the image cache (no download).
    const other = await prepareData(worker.services.s3.client, { ...request, baseSize: 75 });
    assert.deepEqual([other.downloaded, other.images.built], [0, true]);
    await other.images.close();
  } finally {
    await first.images.close();
    await second.images.close();
  }
});
