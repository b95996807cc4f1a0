import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { CliError } from '../errors.js';
import { readConfinedFile } from './confined-file.js';
import { loadCheckpoint } from './load-checkpoint.js';

let root: string;
let checkpoint: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'setrain-confined-'));
  checkpoint = join(root, 'checkpoint');
  await mkdir(join(checkpoint, 'sub'), { recursive: true });
  await writeFile(join(root, 'secret.bin'), 'outside');
  await writeFile(join(checkpoint, 'sub', 'w.bin'), 'inside');
  await writeFile(join(checkpoint, 'classes.json'), '["a","b"]');
  await symlink('/dev/zero', join(checkpoint, 'zero.bin'));
  await symlink(join(root, 'secret.bin'), join(checkpoint, 'escape.bin'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function refusal(path: string): Promise<string> {
  try {
    await readConfinedFile(checkpoint, path, 'weights file');
  } catch (error) {
    assert.ok(error instanceof CliError, String(error));
    return error.message;
  }
  return assert.fail(`${path} was read`);
}

test('files inside the checkpoint folder are read', async () => {
  assert.equal((await readConfinedFile(checkpoint, 'sub/w.bin', 'w')).toString(), 'inside');
});

test('absolute paths, .. segments, links outside and non-regular files are refused', async () => {
  assert.match(await refusal('/dev/zero'), /refused: it must be a path relative/);
  assert.match(await refusal(join(root, 'secret.bin')), /refused: it must be a path relative/);
  assert.match(await refusal('../secret.bin'), /refused: a '\.\.' segment/);
  assert.match(await refusal('sub/../../secret.bin'), /refused: a '\.\.' segment/);
  assert.match(await refusal('escape.bin'), /refused: it links to a file outside/);
  assert.match(await refusal('sub'), /refused: it is not a regular file/);
  assert.match(await refusal('missing.bin'), /is missing/);
});

test('a model.json naming /dev/zero or ../ fails loadCheckpoint with a usage error, reading nothing', async () => {
  for (const paths of [['/dev/zero'], ['../secret.bin'], ['zero.bin']]) {
    await writeFile(
      join(checkpoint, 'model.json'),
      JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths, weights: [] }] }),
    );
    await assert.rejects(loadCheckpoint(checkpoint), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.match(error.message, /weights file named by model\.json .* is refused/);
      return true;
    });
  }
});

test('a model.json that is itself a link to /dev/zero is refused', async () => {
  await rm(join(checkpoint, 'model.json'));
  await symlink('/dev/zero', join(checkpoint, 'model.json'));
  await assert.rejects(loadCheckpoint(checkpoint), /model file .* is refused/);
});
