#!/usr/bin/env node
// npm run bundle:gpu-bench [-- --out DIR (default dist/gpu-bench, relative to the repository)]: scripts/gpu-bench.ts as one self-contained
// folder for a machine that gets a copy of the working tree plus at most 64 MiB and no network:
//   gpu-bench.mjs                       the benchmark, tfjs (core, layers, cpu, webgpu) and the
//                                       engine and model packages, bundled by esbuild
//   node_modules/webgpu/                Dawn's loader (index.js, package.json) and only its
//                                       linux-x64 dawn.node (~21 MB)
// Run it with a bare `node gpu-bench.mjs` (Node >= 20). Fails when the folder exceeds 60 MiB.
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_BYTES = 60 * 2 ** 20;
/** Dawn's platform build the bundle carries (what the lent accelerator machines run). */
const DAWN_PLATFORM = 'linux-x64';

const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
const out = resolve(ROOT, values.out ?? 'dist/gpu-bench');

/** Total bytes of the files under `dir`. */
function sizeOf(dir) {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    bytes += entry.isDirectory() ? sizeOf(path) : statSync(path).size;
  }
  return bytes;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(ROOT, 'scripts/gpu-bench.ts')],
  outfile: join(out, 'gpu-bench.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // The workspace packages' TypeScript sources, as the tests run them.
  conditions: ['source'],
  // Dawn stays a package next to the bundle (it finds dawn.node by its own path). The other
  // engines are imported only when asked for; the benchmark never asks.
  external: [
    'webgpu',
    '@setrain/engine-native',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-backend-wasm',
  ],
  // Bundled CommonJS modules call require(); give the ES module bundle one.
  banner: {
    js: "import { createRequire as setrainCreateRequire } from 'node:module'; const require = setrainCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
const webgpu = join(ROOT, 'node_modules/webgpu');
const target = join(out, 'node_modules/webgpu');
for (const file of ['index.js', 'package.json', 'LICENSE.md']) {
  cpSync(join(webgpu, file), join(target, file));
}
cpSync(join(webgpu, 'dist', DAWN_PLATFORM), join(target, 'dist', DAWN_PLATFORM), {
  recursive: true,
});
const bytes = sizeOf(out);
const mib = (bytes / 2 ** 20).toFixed(1);
if (bytes > MAX_BYTES) {
  console.error(`bundle:gpu-bench: ${out} is ${mib} MiB, over the 60 MiB limit`);
  process.exit(1);
}
console.log(`bundle:gpu-bench: ${out} (${mib} MiB); run: node ${join(out, 'gpu-bench.mjs')}`);
