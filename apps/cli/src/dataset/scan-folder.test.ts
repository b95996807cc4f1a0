import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { CliError } from '../errors.js';
import { parseLabelsCsv, scanDatasetFolder } from './scan-folder.js';

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'setrain-scan-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('labels.csv is parsed as RFC 4180 with a BOM, quoted commas, quotes and line breaks', () => {
  const rows = parseLabelsCsv(
    '\ufefffile,labels\na.png,"red;round"\n\n"x, y.png","say ""hi"""\nz.png,"two\nlines"\nw.png,ok\n',
    'labels.csv',
  );
  assert.deepEqual(
    rows.map((row) => [row.line, ...row.cells]),
    [
      [1, 'file', 'labels'],
      [2, 'a.png', 'red;round'],
      [4, 'x, y.png', 'say "hi"'],
      [5, 'z.png', 'two\nlines'],
      [7, 'w.png', 'ok'],
    ],
  );
  assert.throws(() => parseLabelsCsv('a.png,"open', 'labels.csv'), /labels\.csv: not valid CSV/);
});

test('per-class subfolders become single-label entries with sorted classes', async () => {
  await withDir(async (dir) => {
    for (const cls of ['dog', 'cat']) {
      await mkdir(join(dir, cls));
      await writeFile(join(dir, cls, '1.png'), 'x');
      await writeFile(join(dir, cls, 'notes.txt'), 'ignored');
    }
    const ds = await scanDatasetFolder(dir);
    assert.equal(ds.source, 'subfolders');
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.deepEqual(
      ds.images.map((i) => [i.key, i.labels]),
      [
        ['images/cat/1.png', ['cat']],
        ['images/dog/1.png', ['dog']],
      ],
    );
  });
});

test('labels.csv gives multi-label entries and names bad lines', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'a.png'), 'x');
    await writeFile(join(dir, 'b.jpg'), 'x');
    await writeFile(join(dir, 'labels.csv'), 'file,labels\na.png,red;circle\nb.jpg,blue\n');
    const ds = await scanDatasetFolder(dir);
    assert.equal(ds.source, 'csv');
    assert.deepEqual(ds.classes, ['blue', 'circle', 'red']);
    assert.deepEqual(ds.images[0]?.labels, ['red', 'circle']);
    await writeFile(join(dir, 'labels.csv'), 'a.png,red\nmissing.png,blue\n');
    await assert.rejects(scanDatasetFolder(dir), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /labels\.csv line 2: image .*missing\.png does not exist/);
      return true;
    });
    await writeFile(join(dir, 'labels.csv'), '\ufefffile,labels\na.png,red\n../b.jpg,blue\n');
    await assert.rejects(scanDatasetFolder(dir), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /labels\.csv line 3: \.\.\/b\.jpg is outside the dataset folder/);
      return true;
    });
  });
});
