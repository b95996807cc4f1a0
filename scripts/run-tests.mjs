#!/usr/bin/env node
// Runs every *.test.ts under apps/, packages/ and test/ with Node's test runner (through tsx, on the
// workspace sources), one process per file, SETRAIN_TEST_JOBS files at a time (default: 2, or 1 on
// a one-core machine). Most integration files wait on timers, Redis and child processes more than
// they compute, so two at a time on two cores cuts the wall time without oversubscribing them.
// Usage: node scripts/run-tests.mjs [path-substring ...] to run a subset.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'test'];
const skipDirs = new Set(['node_modules', 'dist', '.cache']);

/**
 * Files that run alone, after the others (path substrings). Some assert on wall-clock latency (a
 * render budget, /healthz answering within a second while the API chews on hostile input), so a
 * neighbour's training could fail them. The others run multi-threaded kernels (the native engine's
 * OpenMP, lavapipe's threads under webgpu) that slow down many times over when another process
 * takes one of their cores (see the README's Performance section): the engine tests, and the local
 * stack's worker, which trains on engine `auto` (native) with every core (the demo test took 486 s
 * beside another file in a CI run; the README measures it at 78 s alone). The benchmark smoke test
 * runs them all, and bench:ceiling needs its two training processes to overlap: beside the chaos
 * test in a CI run they started too far apart for a 6-step window.
 */
const RUN_ALONE = [
  'test/ui-perf.test.ts',
  'test/security-data.test.ts',
  'test/security-fuzz.test.ts',
  'test/security-memory.test.ts',
  'test/security-spec.test.ts',
  'test/engine-native/',
  'packages/engine-native/',
  'packages/engine/src/conv-gradients.test.ts',
  'test/demo.test.ts',
  'test/cli-e2e.test.ts',
  'test/local-up.test.ts',
  'test/benchmarks-smoke.test.ts',
];
const runsAlone = (/** @type {string} */ file) => RUN_ALONE.some((part) => file.includes(part));

/**
 * The slowest files (minutes each in CI), started first so that no long file starts last and runs
 * on alone while the other slot idles. Measured in full `npm test` runs; order only, not a limit.
 */
const SLOWEST_FIRST = [
  'test/pbt.test.ts',
  'test/best-epoch.test.ts',
  'test/worker.test.ts',
  'test/observability.test.ts',
  'test/worker-faults.test.ts',
  'test/security-worker.test.ts',
  'test/pipeline.test.ts',
  'test/fetch-best.test.ts',
  'test/webhooks.test.ts',
];

/** @param {string} dir @returns {string[]} */
function findTests(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) out.push(...findTests(join(dir, entry.name)));
    } else if (entry.name.endsWith('.test.ts')) {
      out.push(relative(root, join(dir, entry.name)));
    }
  }
  return out;
}

/** @param {string} file */
function rank(file) {
  const index = SLOWEST_FIRST.indexOf(file);
  if (index >= 0) return index;
  // Integration tests (real services: test/ and a package's test/ folder) before unit tests, which
  // are short and fill the gaps.
  const integration = file.startsWith('test/') || file.includes('/test/');
  return integration ? SLOWEST_FIRST.length : SLOWEST_FIRST.length + 1;
}

/**
 * @typedef {{ file: string, code: number | null, signal: string | null, seconds: number,
 *   counts: Record<string, number>, output: string }} FileResult
 */

/** @param {string} file @returns {Promise<FileResult>} */
function runFile(file) {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--test', '--test-reporter=spec', file],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The AWS SDK's notice that its 2027 releases need Node 22 would repeat in every test process.
      env: {
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...process.env,
        NODE_ENV: 'test',
        // The spec reporter drops its colours when piped; keep them where the terminal has them.
        ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}),
      },
    },
  );
  /** @type {Buffer[]} */
  const chunks = [];
  child.stdout.on('data', (chunk) => chunks.push(chunk));
  child.stderr.on('data', (chunk) => chunks.push(chunk));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      /** @type {Record<string, number>} */
      const counts = {};
      // The spec reporter ends with lines such as "ℹ tests 12", "ℹ pass 11", "ℹ fail 1".
      for (const match of output.matchAll(/^ℹ (tests|pass|fail|skipped|todo|cancelled) (\d+)$/gm)) {
        counts[match[1] ?? ''] = Number(match[2]);
      }
      resolve({
        file,
        code,
        signal,
        seconds: (performance.now() - started) / 1000,
        counts,
        output,
      });
    });
  });
}

/** @param {FileResult} result */
function report(result) {
  const ok = result.code === 0;
  const status = ok ? 'ok' : `FAILED (${result.signal ?? `exit ${result.code}`})`;
  process.stdout.write(`\n━━ ${result.file}: ${status} in ${result.seconds.toFixed(1)} s\n`);
  process.stdout.write(result.output);
}

/**
 * Runs files `jobs` at a time and prints each file's whole output when it ends, so the outputs of
 * files running side by side never interleave.
 * @param {string[]} files @param {number} jobs @returns {Promise<FileResult[]>}
 */
async function runPool(files, jobs) {
  /** @type {FileResult[]} */
  const results = [];
  let next = 0;
  async function lane() {
    while (next < files.length) {
      const file = files[next++];
      if (file === undefined) return;
      process.stdout.write(`▶ ${file}\n`);
      const result = await runFile(file);
      report(result);
      results.push(result);
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, lane));
  return results;
}

function jobsFromEnv() {
  const raw = process.env['SETRAIN_TEST_JOBS'];
  if (raw === undefined || raw === '') return Math.min(2, availableParallelism());
  const jobs = Number(raw);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`SETRAIN_TEST_JOBS must be a whole number >= 1 (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return jobs;
}

const jobs = jobsFromEnv();
const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => findTests(join(root, r)))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const started = performance.now();
const shared = files.filter((f) => !runsAlone(f));
const alone = files.filter(runsAlone);
const results = [...(await runPool(shared, jobs)), ...(await runPool(alone, 1))];

/** @type {Record<string, number>} */
const totals = {};
for (const result of results) {
  for (const [name, count] of Object.entries(result.counts))
    totals[name] = (totals[name] ?? 0) + count;
}
const failed = results.filter((r) => r.code !== 0);
const minutes = ((performance.now() - started) / 60000).toFixed(1);
console.log(
  `\n━━ ${results.length} files (${shared.length} ${jobs} at a time, then ${alone.length} alone) in ${minutes} min`,
);
console.log(
  ['tests', 'pass', 'fail', 'skipped', 'todo', 'cancelled']
    .map((name) => `${name} ${totals[name] ?? 0}`)
    .join(' · '),
);
console.log('slowest files:');
for (const r of [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 12)) {
  console.log(`  ${r.seconds.toFixed(1).padStart(7)} s  ${r.file}`);
}
if (failed.length > 0) {
  console.log(`failed files (${failed.length}):`);
  for (const r of failed) console.log(`  ${r.file}`);
  process.exit(1);
}
