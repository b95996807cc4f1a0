import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { CliError, EXIT_CODES } from '../errors.js';
import { CardChecksums, MODEL_CARD_FILE } from './card-checksums.js';
import { loadCheckpoint } from './load-checkpoint.js';

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'setrain-card-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A folder as fetch-best leaves it: files and a model card recording their sha256. */
async function fetchedFolder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  const card = {
    files: Object.entries(files).map(([path, text]) => ({
      name: path,
      bytes: text.length,
      sha256: sha256(text),
      verified: true,
    })),
  };
  await writeFile(join(dir, MODEL_CARD_FILE), JSON.stringify(card));
  return dir;
}

function isChecksumError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, EXIT_CODES.checksum);
    assert.match(error.message, pattern);
    return true;
  };
}

test('files of a fetched folder are checked against its model card', async () => {
  const dir = await fetchedFolder('good', { 'classes.json': '["a","b"]', 'model.json': '{}' });
  await writeFile(join(dir, 'extra.bin'), 'not fetched');
  const files = await CardChecksums.open(dir);
  assert.ok(files.checked);
  assert.equal((await files.read('classes.json', 'classes file')).toString(), '["a","b"]');
  await assert.rejects(
    files.read('extra.bin', 'weights file'),
    isChecksumError(/weights file .*extra\.bin is not among the files model-card\.json lists/),
  );
});

test('a classes.json changed after fetch-best fails loadCheckpoint (exit 7), naming it', async () => {
  const dir = await fetchedFolder('changed', {
    'classes.json': '["cat","dog"]',
    'model.json': JSON.stringify({ modelTopology: {}, weightsManifest: [] }),
  });
  await writeFile(join(dir, 'classes.json'), '["dog","cat"]');
  await assert.rejects(
    loadCheckpoint(dir),
    isChecksumError(
      /classes file .*classes\.json has sha256 [0-9a-f]{64}, but model-card\.json records [0-9a-f]{64}: it changed since fetch-best verified it/,
    ),
  );
});

test('a folder without a model card is read unchecked; a broken card is a usage error', async () => {
  const dir = join(root, 'hand-made');
  await mkdir(dir);
  await writeFile(join(dir, 'classes.json'), '["a"]');
  const files = await CardChecksums.open(dir);
  assert.equal(files.checked, false);
  assert.equal((await files.read('classes.json', 'classes file')).toString(), '["a"]');
  await writeFile(join(dir, MODEL_CARD_FILE), '{"files":[{"name":"classes.json"}]}');
  await assert.rejects(CardChecksums.open(dir), (error: unknown) => {
    assert.ok(error instanceof CliError);
    assert.equal(error.exitCode, EXIT_CODES.usage);
    assert.match(error.message, /model card .* is not valid/);
    return true;
  });
});
