import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import sharp from 'sharp';

import { checkImageBytes, decodeImage, DEFAULT_IMAGE_LIMITS } from './image-decode.js';
import { WorkerError } from './worker-error.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'setrain-decode-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writePng(name: string, width: number, height: number): Promise<string> {
  const path = join(dir, name);
  const png = await sharp({
    create: { width, height, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 1 } },
  })
    .png()
    .toBuffer();
  await writeFile(path, png);
  return path;
}

function isWorkerError(code: string, ...fragments: string[]) {
  return (error: unknown): boolean =>
    error instanceof WorkerError &&
    error.code === code &&
    fragments.every((fragment) => error.message.includes(fragment));
}

test('an image decodes to size x size RGB bytes, alpha dropped', async () => {
  const path = await writePng('rgba.png', 40, 30);
  const pixels = await decodeImage(path, 8, 's3://b/rgba.png');
  assert.equal(pixels.byteLength, 8 * 8 * 3);
  assert.deepEqual([pixels[0], pixels[1], pixels[2]], [200, 10, 10]);
});

test('an image over the pixel limit fails from its header, naming the object and the limit', async () => {
  const path = await writePng('wide.png', 50, 20);
  await assert.rejects(
    decodeImage(path, 8, 's3://b/wide.png', { ...DEFAULT_IMAGE_LIMITS, maxPixels: 999 }),
    isWorkerError('IMAGE_TOO_LARGE', 's3://b/wide.png', '50x20', '999', 'SETRAIN_IMAGE_MAX_PIXELS'),
  );
  // At the limit it decodes.
  assert.equal(
    (await decodeImage(path, 8, 's3://b/wide.png', { ...DEFAULT_IMAGE_LIMITS, maxPixels: 1000 }))
      .byteLength,
    192,
  );
});

test('an undecodable file fails with IMAGE_CORRUPT naming the object', async () => {
  const path = join(dir, 'bad.jpg');
  await writeFile(path, Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
  await assert.rejects(
    decodeImage(path, 8, 's3://b/bad.jpg'),
    isWorkerError('IMAGE_CORRUPT', 's3://b/bad.jpg'),
  );
});

test('an object over the byte limit is refused before any download', () => {
  assert.throws(
    () => {
      checkImageBytes(2049, 's3://b/big.jpg', { ...DEFAULT_IMAGE_LIMITS, maxBytes: 2048 });
    },
    isWorkerError('IMAGE_TOO_LARGE', 's3://b/big.jpg', '2049', 'SETRAIN_IMAGE_MAX_BYTES'),
  );
  checkImageBytes(2048, 's3://b/ok.jpg', { ...DEFAULT_IMAGE_LIMITS, maxBytes: 2048 });
});
