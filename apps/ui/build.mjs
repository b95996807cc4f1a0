// Bundles the dashboard into dist/public (index.html, app.js, app.css): everything the page needs,
// no CDN. Usage: node build.mjs [outDir] (npm run build -w @setrain/ui); the API serves the folder
// at /ui. A test that builds into a folder of its own (outDir) cannot see another's build half done.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = process.argv[2] !== undefined ? resolve(process.argv[2]) : `${here}dist/public`;
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const result = await build({
  entryPoints: { app: `${here}src/main.tsx` },
  bundle: true,
  minify: process.env.UI_NO_MINIFY === undefined,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // The workspace packages are bundled from their TypeScript sources.
  conditions: ['source'],
  outdir: out,
  metafile: true,
  logLevel: 'warning',
});
await copyFile(`${here}src/index.html`, `${out}/index.html`);
const bytes = Object.entries(result.metafile.outputs).map(
  ([f, o]) => `${f.split('/').pop()} ${o.bytes} B`,
);
console.log(`ui: built ${out} (${bytes.join(', ')})`);
