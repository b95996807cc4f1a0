// `npm run bundle:gpu-bench` makes one folder that runs with a bare `node` away from this
// repository (built into a temp dir, so nothing resolves from the repository's node_modules):
// under 60 MiB, the bundle loads every module it imports, and its Dawn (dawn.node) loads. The
// benchmark itself on lavapipe takes minutes (README, Performance): run it by hand.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { tempDir, type TempDir } from './harness/index.js';

const run = promisify(execFile);
const BUNDLER = fileURLToPath(new URL('../scripts/bundle-gpu-bench.mjs', import.meta.url));

let dir: TempDir;
before(async () => {
  dir = await tempDir('gpu-bench');
});
after(async () => {
  await dir?.cleanup();
});

async function bytesUnder(path: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    bytes += entry.isDirectory() ? await bytesUnder(child) : (await stat(child)).size;
  }
  return bytes;
}

test('the gpu-bench bundle is self-contained, under 60 MiB, and loads its modules and Dawn', async () => {
  const out = join(dir.path, 'gpu-bench');
  const built = await run(process.execPath, [BUNDLER, '--out', out]);
  assert.match(built.stdout, /MiB\); run: node /);
  const bytes = await bytesUnder(out);
  assert.ok(bytes < 60 * 2 ** 20, `${bytes} bytes`);
  assert.ok(bytes > 20 * 2 ** 20, `${bytes} bytes: dawn.node (~21 MB) missing?`);
  // Bad input fails after every static import has loaded: a missing module would fail first.
  const bad = await run(process.execPath, ['gpu-bench.mjs', '--batch', '0'], { cwd: out }).then(
    () => assert.fail('--batch 0 must fail'),
    (error: unknown) => error as { code?: number; stderr?: string },
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr ?? '', /gpu-bench: --batch must be an integer from 1 to 256, got 0/);
  const dawn = await run(
    process.execPath,
    ['--input-type=module', '-e', "const m = await import('webgpu'); console.log(typeof m.create)"],
    { cwd: out },
  );
  assert.equal(dawn.stdout.trim(), 'function');
});
