import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { DecodedImageCache } from './decoded-cache.js';

/** A 2x2 image whose every byte is `index + 1`. */
const fill = (index: number): Promise<Uint8Array> =>
  Promise.resolve(new Uint8Array(2 * 2 * 3).fill(index + 1));

test('a set is decoded once, then read back from its packed file by every later opener', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'setrain-decoded-'));
  try {
    const cache = new DecodedImageCache({ dir, concurrency: 2 });
    const key = { images: ['x', 'y', 'z'], size: 2 };
    let decoded = 0;
    const counting = (index: number): Promise<Uint8Array> => {
      decoded += 1;
      return fill(index);
    };
    const first = await cache.open(key, counting);
    const second = await cache.open(key, counting);
    try {
      assert.equal(decoded, 3);
      assert.deepEqual([first.built, second.built], [true, false]);
      assert.deepEqual([...(await second.read(2))], new Array<number>(12).fill(3));
      assert.deepEqual([...(await first.read(0))], new Array<number>(12).fill(1));
      await assert.rejects(second.read(3), RangeError);
    } finally {
      await first.close();
      await second.close();
    }
    // Another size is another file; a failed build leaves nothing behind.
    await assert.rejects(
      cache.open({ ...key, size: 3 }, fill),
      /image 0 decoded to 12 bytes, not 27/,
    );
    assert.equal((await readdir(dir)).length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('packed files stay within the byte budget, least recently used evicted first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'setrain-decoded-'));
  try {
    // Each set: 2 images of 12 bytes = 24 bytes; the budget holds two sets.
    const cache = new DecodedImageCache({ dir, maxBytes: 50 });
    for (const name of ['a', 'b', 'c']) {
      const images = await cache.open({ images: [`${name}1`, `${name}2`], size: 2 }, fill);
      await images.close();
    }
    const files = await readdir(dir);
    assert.equal(files.length, 2);
    assert.ok(
      !files.includes(
        cache
          .pathOf({ images: ['a1', 'a2'], size: 2 })
          .split('/')
          .pop() ?? '',
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
