// Training-step and forward-pass throughput of SE-Inception v3 on each tfjs engine present.
//
//   npm run bench:engine -- [--size 75] [--batch 8] [--steps 5] [--warmup 1] [--repeat 1]
//                           [--engines tensorflow,webgpu,native,wasm] [--classes 10] [--threads N]
//                           [--modes train,predict] [--kernels queued|inline]
//
// Every (engine, repeat) runs in its own child process, so backends never share a heap or a
// tfjs engine; repeats are interleaved (a,b,a,b) so machine noise hits every engine alike.
// Img/s and ms/step come from the median step time (as the PyTorch reference reports them).
// Prints one JSON line per engine run (mode train: trainOnBatch; mode predict: the forward pass in
// inference mode), one per engine that could not run, with the reason, and the ratio of each
// engine's forward pass to wasm's (the zero-setup engine every other one must not fall behind).
// With the native engine selected it then compares native with PyTorch (scripts/bench/compare-pytorch.ts):
// 75 and 139 pixels, 1 and 2 threads, --repeat times each, printing ratios native/PyTorch.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BACKEND_NAMES, EngineError, initEngine, type BackendName } from '@setrain/engine';
import { buildSeInceptionV3 } from '@setrain/model';
import * as tf from '@tensorflow/tfjs-core';

import {
  DEFAULT_COMPARISON_SIZES,
  DEFAULT_COMPARISON_STEPS,
  DEFAULT_COMPARISON_THREADS,
  runPytorchComparison,
} from './bench/compare-pytorch.js';
import { median, round } from './bench/stats.js';
import { intOption as int } from './bench/options.js';
// The layers package registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';

/** Engines run when --engines is not given: cpu is left out (about 50x slower than wasm). */
const DEFAULT_BENCH_ENGINES: readonly BackendName[] = ['tensorflow', 'webgpu', 'native', 'wasm'];
const DEFAULT_SIZE = 75;
const DEFAULT_BATCH = 8;
const DEFAULT_STEPS = 3;
const DEFAULT_WARMUP = 1;
const DEFAULT_REPEAT = 1;
const DEFAULT_CLASSES = 10;
/** What a run measures: training steps (trainOnBatch) or forward passes (predict). */
const BENCH_MODES = ['train', 'predict'] as const;
type BenchMode = (typeof BENCH_MODES)[number];
/** How the native engine runs its kernels (loadNativeBackend's asyncKernels on or off). */
const NATIVE_KERNEL_MODES = ['queued', 'inline'] as const;
type NativeKernelMode = (typeof NATIVE_KERNEL_MODES)[number];
/** Prefix of the one stdout line a child reports on; everything else it prints is passed through. */
const RESULT_PREFIX = 'BENCH_RESULT ';

interface BenchOptions {
  size: number;
  batch: number;
  steps: number;
  warmup: number;
  repeat: number;
  classes: number;
  /** Passed to initEngine (engines that cannot use it report what they ran with). */
  threads: number | undefined;
  engines: BackendName[];
  modes: BenchMode[];
  /** native only: kernels on the addon's kernel queue (the default) or inside each call. */
  kernels: NativeKernelMode;
}

interface BenchResult {
  engine: BackendName;
  mode: BenchMode;
  size: number;
  batch: number;
  steps: number;
  /** From the median step time. */
  imgPerSec: number;
  /** Median step time. */
  msPerStep: number;
  /** Images of all timed steps over their wall time, until every queued kernel has run. */
  wallImgPerSec: number;
  stepMs: number[];
  /** When the first timed step began (ms since the epoch), to line up concurrent runs. */
  timedStartEpochMs: number;
  peakRssMB: number;
  numTensorsAfter: number;
  description: string;
  threads?: number;
  kernels?: NativeKernelMode;
  kernelMsPerStep?: number;
  waitMsPerStep?: number;
  waitsPerStep?: number;
}

interface BenchSkip {
  engine: BackendName;
  skipped: true;
  reason: string;
}

/** The native engine's kernel queue, when the active backend has one. */
interface QueueView {
  drain(): void;
  stats(): { kernelMs: number; waitedMs: number; waits: number };
}

function kernelQueue(): QueueView | undefined {
  return (tf.backend() as { queue?: QueueView }).queue;
}

/** Waits for the native engine's queued kernels (no-op on other engines). */
function drainKernels(): void {
  kernelQueue()?.drain();
}

/** `name` if it is one of `allowed`; otherwise an error that lists them. */
function oneOf<T extends string>(what: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(name)) return name as T;
  throw new Error(`unknown ${what} ${JSON.stringify(name)}; allowed: ${allowed.join(', ')}`);
}

/** A comma-separated list of `allowed` values. */
function listOf<T extends string>(what: string, allowed: readonly T[], text: string): T[] {
  return text
    .split(',')
    .filter((name) => name !== '')
    .map((name) => oneOf(what, allowed, name));
}

function parseOptions(argv: string[]): { options: BenchOptions; child: BackendName | undefined } {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      repeat: { type: 'string' },
      classes: { type: 'string' },
      engines: { type: 'string' },
      threads: { type: 'string' },
      child: { type: 'string' },
      modes: { type: 'string' },
      kernels: { type: 'string' },
    },
    strict: true,
  });
  const engine = (name: string): BackendName => oneOf('engine', BACKEND_NAMES, name);
  const engines =
    values.engines === undefined
      ? [...DEFAULT_BENCH_ENGINES]
      : listOf('engine', BACKEND_NAMES, values.engines);
  const modes =
    values.modes === undefined ? [...BENCH_MODES] : listOf('mode', BENCH_MODES, values.modes);
  return {
    options: {
      size: int('size', values.size, DEFAULT_SIZE, 75),
      batch: int('batch', values.batch, DEFAULT_BATCH, 1),
      steps: int('steps', values.steps, DEFAULT_STEPS, 1),
      warmup: int('warmup', values.warmup, DEFAULT_WARMUP, 0),
      repeat: int('repeat', values.repeat, DEFAULT_REPEAT, 1),
      classes: int('classes', values.classes, DEFAULT_CLASSES, 1),
      threads: values.threads === undefined ? undefined : int('threads', values.threads, 1, 1),
      engines,
      modes,
      kernels: oneOf('kernel mode', NATIVE_KERNEL_MODES, values.kernels ?? 'queued'),
    },
    child: values.child === undefined ? undefined : engine(values.child),
  };
}

/** Child: one engine, one model, warm-up then timed training steps. */
async function runChild(
  engine: BackendName,
  options: BenchOptions,
): Promise<BenchResult | BenchSkip> {
  let description: string;
  let threads: number | undefined;
  try {
    const info = await initEngine(
      options.threads === undefined
        ? { backend: engine }
        : { backend: engine, threads: options.threads },
    );
    description = info.description;
    threads = info.threads;
    if (engine === 'native' && options.kernels === 'inline') {
      // initEngine loaded native with its defaults; loading it again only changes these options.
      const { loadNativeBackend } = await import('@setrain/engine-native');
      const native = await loadNativeBackend({
        ...(threads === undefined ? {} : { threads }),
        asyncKernels: false,
      });
      description = native.description;
    }
  } catch (error) {
    if (error instanceof EngineError) return { engine, skipped: true, reason: error.message };
    throw error;
  }
  const model = buildSeInceptionV3({
    inputSize: options.size,
    numClasses: options.classes,
    seed: 1,
  });
  const optimizer = tf.train.adam(1e-4);
  model.compile({ optimizer, loss: 'binaryCrossentropy' });
  const x = tf.randomUniform([options.batch, options.size, options.size, 3], 0, 255, 'float32', 7);
  const y = tf.tidy(() =>
    tf.cast(
      tf.greater(tf.randomUniform([options.batch, options.classes], 0, 1, 'float32', 8), 0.5),
      'float32',
    ),
  );
  const mode = options.modes[0] ?? 'train';
  const step = async (): Promise<void> => {
    if (mode === 'train') {
      // trainOnBatch reads the loss back, so each step waits for its forward pass; with native's
      // kernel queue its backward pass and Adam may still run (see drainKernels below).
      await model.trainOnBatch(x, y);
    } else {
      const predictions = model.predict(x) as tf.Tensor;
      await predictions.data();
      predictions.dispose();
    }
  };
  for (let i = 0; i < options.warmup; i++) await step();
  const stepMs: number[] = [];
  const statsBefore = kernelQueue()?.stats();
  const timedStartEpochMs = performance.timeOrigin + performance.now();
  const firstStart = process.hrtime.bigint();
  for (let i = 0; i < options.steps; i++) {
    const start = process.hrtime.bigint();
    await step();
    stepMs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  // With native's kernel queue a step's loss is read while its backward pass and Adam still run
  // (the next step's loss read waits for them, so in steady state the median step is the real
  // rate); the wall rate also counts the last step's tail.
  drainKernels();
  const wallMs = Number(process.hrtime.bigint() - firstStart) / 1e6;
  const statsAfter = kernelQueue()?.stats();
  // The median step, as the PyTorch reference reports (a mean lets one host hiccup move it).
  const medianMs = median(stepMs);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  const result: BenchResult = {
    engine,
    mode,
    size: options.size,
    batch: options.batch,
    steps: options.steps,
    imgPerSec: round((options.batch * 1000) / medianMs, 3),
    msPerStep: round(medianMs, 1),
    wallImgPerSec: round((options.batch * options.steps * 1000) / wallMs, 3),
    stepMs: stepMs.map((ms) => round(ms, 1)),
    timedStartEpochMs: round(timedStartEpochMs, 1),
    // The kernel's high-water mark (getrusage ru_maxrss, KiB), the statistic the PyTorch reference
    // reports; sampling rss() between awaits missed the peak inside a step.
    peakRssMB: round(process.resourceUsage().maxRSS / 1024, 0),
    numTensorsAfter: tf.memory().numTensors,
    description,
  };
  if (threads !== undefined) result.threads = threads;
  if (engine === 'native') result.kernels = options.kernels;
  if (statsBefore !== undefined && statsAfter !== undefined) {
    // Per timed step: time in native kernels (on the queue's thread when queued), and time and
    // count of JavaScript waiting for queued kernels.
    const per = (a: number, b: number) => round((b - a) / options.steps, 1);
    result.kernelMsPerStep = per(statsBefore.kernelMs, statsAfter.kernelMs);
    result.waitMsPerStep = per(statsBefore.waitedMs, statsAfter.waitedMs);
    result.waitsPerStep = per(statsBefore.waits, statsAfter.waits);
  }
  return result;
}

/** Strips `--name value` and `--name=value` from argv. */
function withoutOption(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === `--${name}`) i++;
    else if (!arg.startsWith(`--${name}=`)) out.push(arg);
  }
  return out;
}

/** Parent: one child process per (mode, repeat, engine), interleaved, one JSON line each. */
async function runParent(options: BenchOptions, argv: string[]): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const childArgv = withoutOption(argv, 'modes');
  let failed = false;
  const forward = new Map<BackendName, number[]>();
  for (const mode of options.modes) {
    for (let repeat = 0; repeat < options.repeat; repeat++) {
      for (const engine of options.engines) {
        const line = await runInChild(script, [...childArgv, '--modes', mode, '--child', engine]);
        if (line === undefined) {
          failed = true;
          console.log(
            JSON.stringify({
              engine,
              mode,
              skipped: true,
              reason: 'benchmark process failed (see stderr)',
            }),
          );
          continue;
        }
        console.log(line);
        const result = JSON.parse(line) as Partial<BenchResult>;
        if (mode === 'predict' && typeof result.imgPerSec === 'number') {
          forward.set(engine, [...(forward.get(engine) ?? []), result.imgPerSec]);
        }
      }
    }
  }
  // Forward passes against wasm, the zero-setup engine: median over the repeats.
  const wasm = forward.get('wasm');
  for (const [engine, rates] of forward) {
    if (engine === 'wasm' || wasm === undefined) continue;
    console.log(
      JSON.stringify({
        comparison: `${engine}/wasm forward pass`,
        size: options.size,
        batch: options.batch,
        ratio: round(median(rates) / median(wasm), 3),
      }),
    );
  }
  if (options.engines.includes('native') && options.modes.includes('train')) {
    // The PyTorch reference (skips itself, with the reason, when torch is not installed).
    await runPytorchComparison({
      sizes: DEFAULT_COMPARISON_SIZES,
      threads: DEFAULT_COMPARISON_THREADS,
      batch: options.batch,
      // The comparison times more steps than the per-engine runs unless --steps says otherwise.
      steps: argv.some((a) => a === '--steps' || a.startsWith('--steps='))
        ? options.steps
        : DEFAULT_COMPARISON_STEPS,
      warmup: options.warmup,
      repeat: options.repeat,
      classes: options.classes,
    });
  }
  if (!options.engines.includes('cpu')) {
    console.log(
      JSON.stringify({
        engine: 'cpu',
        skipped: true,
        reason: 'not run by default (pure JS, about 50x slower than wasm); pass --engines cpu',
      }),
    );
  }
  if (failed) process.exitCode = 1;
}

function runInChild(script: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Same loader flags as this process (--conditions=source --import tsx).
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', () => {
      let result: string | undefined;
      for (const line of stdout.split('\n')) {
        if (line.startsWith(RESULT_PREFIX)) result = line.slice(RESULT_PREFIX.length);
        else if (line.trim() !== '') process.stderr.write(`${line}\n`);
      }
      resolve(result);
    });
  });
}

const argv = process.argv.slice(2);
const { options, child } = parseOptions(argv);
if (child === undefined) {
  await runParent(options, argv);
} else {
  const result = await runChild(child, options);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  // Dawn and the wasm runtime may hold handles; the result is out, so leave now.
  process.exit(0);
}
