import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { evictToBudget, touchCached } from './cache-budget.js';

test('eviction removes the least recently used files until the budget holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'setrain-budget-'));
  try {
    await mkdir(join(dir, 'ab'));
    // Five 100-byte files used at t = 1000 s, 2000 s, ... (a: oldest).
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, name] of names.entries()) {
      const path = join(dir, 'ab', name);
      await writeFile(path, Buffer.alloc(100));
      await utimes(path, (i + 1) * 1000, (i + 1) * 1000);
    }
    await writeFile(join(dir, 'ab', 'f.tmp'), Buffer.alloc(1000)); // being written: not counted
    await touchCached(join(dir, 'ab', 'a')); // a is now the most recently used
    const report = await evictToBudget(dir, 250);
    assert.deepEqual(report, { bytes: 200, evictedFiles: 3, evictedBytes: 300 });
    assert.deepEqual((await readdir(join(dir, 'ab'))).sort(), ['a', 'e', 'f.tmp']);
    assert.deepEqual(await evictToBudget(dir, 250), {
      bytes: 200,
      evictedFiles: 0,
      evictedBytes: 0,
    });
    assert.deepEqual(await evictToBudget(join(dir, 'absent'), 0), {
      bytes: 0,
      evictedFiles: 0,
      evictedBytes: 0,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
