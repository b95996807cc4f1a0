#!/usr/bin/env node
// Builds the oneDNN addon with node-gyp. Run by `npm install`/`npm ci` (the package's install script):
// a missing libdnnl-dev or compiler must not fail the install, because the wasm engine is the
// zero-setup fallback; loadNativeBackend() then explains what is missing. `--strict` (npm run
// build:addon) fails instead, for CI.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function finish(message) {
  if (strict) {
    console.error(`engine-native: ${message}`);
    process.exit(1);
  }
  console.warn(`engine-native: ${message}; the native engine stays unavailable (wasm remains).`);
  process.exit(0);
}

const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'];
if (!header.some((p) => existsSync(p))) {
  finish('oneDNN headers not found (install them: apt-get install libdnnl-dev)');
}

// node-gyp ships inside npm; prefer it so the build needs nothing from the network but headers,
// and take Node's headers from the local installation when it has them.
const require = createRequire(import.meta.url);
let nodeGyp;
try {
  const npmDir = dirname(
    require.resolve('npm/package.json', { paths: [dirname(process.execPath)] }),
  );
  nodeGyp = join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
} catch {
  const candidate = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  nodeGyp = existsSync(candidate) ? candidate : undefined;
}
if (nodeGyp === undefined || !existsSync(nodeGyp)) finish('node-gyp not found next to npm');

// The elementwise loops are vectorised for AVX2 when the machine building the addon has it (the
// convolutions dispatch at run time inside oneDNN, up to AVX-512, either way).
function marchLevel() {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    return ['avx2', 'fma', 'bmi2', 'movbe'].every((f) => new RegExp(`\\b${f}\\b`).test(flags))
      ? 'x86-64-v3'
      : 'x86-64';
  } catch {
    return 'x86-64';
  }
}

const args = [nodeGyp, 'rebuild'];
const nodeDir = join(dirname(process.execPath), '..');
if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
if (process.arch === 'x64') args.push('--', `-Dsetrain_march=${marchLevel()}`);
const result = spawnSync(process.execPath, args, { cwd: packageDir, stdio: 'inherit' });
if (result.status !== 0) finish(`node-gyp rebuild failed (exit ${String(result.status)})`);
