// PyTorch reference for the native engine: the same SE-Inception v3 training step (architecture,
// batch, image size, threads, Adam, binary cross-entropy) in PyTorch 1.13 (Debian's python3-torch,
// oneDNN) and in setrain's native engine, each run in its own process, interleaved and alternating
// which goes first, so load from other processes hits both alike. Prints one JSON line per pair
// and a table of ratios (ours / PyTorch, higher is better) with peak memory. With
// --native-kernels queued,inline the native engine also runs with its kernel queue off (each kernel
// inside its call, as before the queue), in the same rotation, and the table adds queued/inline per
// run; a second table gives each engine's 2-thread/1-thread ratio (median img/s of the same run).
//
//   node --conditions=source --import tsx scripts/bench/compare-pytorch.ts [--repeat 3] [--steps 10]
//        [--warmup 1] [--batch 8] [--sizes 75,139] [--threads 1,2] [--native-kernels queued]
//
// `npm run bench:engine` runs it after the per-engine runs when /usr/bin/python3 can import torch
// and torchvision (apt-get install python3-torch python3-torchvision).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runForStdout, threadEnv } from './child-run.js';
import { median, round } from './stats.js';

/** Debian's python3-torch installs for the system interpreter, not for one earlier on PATH. */
export const PYTHON = '/usr/bin/python3';
export const DEFAULT_COMPARISON_SIZES: readonly number[] = [75, 139];
export const DEFAULT_COMPARISON_THREADS: readonly number[] = [1, 2];
/** Timed steps per run. A 75x75 step takes about 0.3 s on two threads; with 3 steps a scheduling
 * hiccup of the host moved single ratios by 20% (measured 0.81-1.21 over five runs), with 10 the
 * same five runs spread 1.04-1.37. */
export const DEFAULT_COMPARISON_STEPS = 10;
const RESULT_PREFIX = 'BENCH_RESULT ';

/** Options of runPytorchComparison. */
export interface PytorchComparisonOptions {
  sizes: readonly number[];
  threads: readonly number[];
  batch: number;
  steps: number;
  warmup: number;
  repeat: number;
  classes: number;
  /** Native kernel modes to run (bench-engine's --kernels); the first is compared with PyTorch.
   * Default ['queued']. */
  nativeKernels?: readonly NativeKernelMode[];
}

export const NATIVE_KERNEL_MODES = ['queued', 'inline'] as const;
export type NativeKernelMode = (typeof NATIVE_KERNEL_MODES)[number];

interface EngineRun {
  imgPerSec: number;
  peakRssMB: number;
}

/** One (size, threads, repeat) pair of runs. */
export interface ComparisonPair {
  comparison: 'native/pytorch';
  size: number;
  threads: number;
  batch: number;
  repeat: number;
  nativeImgPerSec: number;
  pytorchImgPerSec: number;
  ratio: number;
  nativePeakRssMB: number;
  pytorchPeakRssMB: number;
  /** How native ran its kernels in this pair. */
  nativeKernels: NativeKernelMode;
  /** With --native-kernels queued,inline: the inline run of the same rotation. */
  inlineImgPerSec?: number;
  inlinePeakRssMB?: number;
}

const benchEngineScript = fileURLToPath(new URL('../bench-engine.ts', import.meta.url));
const pytorchScript = fileURLToPath(new URL('./pytorch_se_inception_v3.py', import.meta.url));

/** Why PyTorch cannot run here, or undefined when it can. */
export function pytorchUnavailableReason(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `${PYTHON} not found (${probe.error.message})`;
  if (probe.status !== 0) {
    return `${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`;
  }
  return undefined;
}

async function runNative(
  size: number,
  threads: number,
  o: PytorchComparisonOptions,
  kernels: NativeKernelMode,
): Promise<EngineRun> {
  const args = [
    ...process.execArgv,
    benchEngineScript,
    '--child',
    'native',
    ...['--kernels', kernels],
    ...['--size', String(size), '--batch', String(o.batch), '--steps', String(o.steps)],
    ...['--warmup', String(o.warmup), '--classes', String(o.classes), '--threads', String(threads)],
  ];
  const stdout = await runForStdout(process.execPath, args, threadEnv(threads));
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) throw new Error('the native benchmark printed no result');
  const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as Partial<EngineRun> & {
    skipped?: boolean;
    reason?: string;
  };
  if (result.skipped === true) throw new Error(`native engine unavailable: ${result.reason ?? ''}`);
  return { imgPerSec: Number(result.imgPerSec), peakRssMB: Number(result.peakRssMB) };
}

async function runPytorch(
  size: number,
  threads: number,
  o: PytorchComparisonOptions,
): Promise<EngineRun> {
  const args = [
    pytorchScript,
    ...['--size', String(size), '--batch', String(o.batch), '--steps', String(o.steps)],
    ...['--warmup', String(o.warmup), '--classes', String(o.classes), '--threads', String(threads)],
  ];
  const stdout = await runForStdout(PYTHON, args, threadEnv(threads));
  const line = stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as { imgPerSec: number; peakRssMiB: number };
  return { imgPerSec: result.imgPerSec, peakRssMB: result.peakRssMiB };
}

/** Markdown table: one row per configuration, the ratio of every repeat, and peak memory. */
export function comparisonTable(pairs: readonly ComparisonPair[]): string {
  const rows = new Map<string, ComparisonPair[]>();
  for (const p of pairs) {
    const key = `${p.size}x${p.size}, ${p.threads} thread${p.threads === 1 ? '' : 's'}`;
    rows.set(key, [...(rows.get(key) ?? []), p]);
  }
  const withInline = pairs.some((p) => p.inlineImgPerSec !== undefined);
  const fixed = (xs: readonly number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  const lines = [
    `| configuration | native img/s |${withInline ? ' native inline img/s |' : ''} PyTorch img/s | ratio native/PyTorch per run | min ratio |${withInline ? ' queued/inline per run |' : ''} peak RSS native / PyTorch (MiB) |`,
    `| --- | --- |${withInline ? ' --- |' : ''} --- | --- | --- |${withInline ? ' --- |' : ''} --- |`,
  ];
  for (const [key, list] of rows) {
    const ratios = list.map((p) => p.ratio);
    const inline = list.map((p) => p.inlineImgPerSec ?? Number.NaN);
    const queuedOverInline = list.map((p) => p.nativeImgPerSec / (p.inlineImgPerSec ?? Number.NaN));
    lines.push(
      `| ${key} | ${median(list.map((p) => p.nativeImgPerSec)).toFixed(2)} |${withInline ? ` ${median(inline).toFixed(2)} |` : ''} ${median(list.map((p) => p.pytorchImgPerSec)).toFixed(2)} | ${fixed(ratios)} | ${Math.min(...ratios).toFixed(2)} |${withInline ? ` ${fixed(queuedOverInline)} |` : ''} ${Math.max(...list.map((p) => p.nativePeakRssMB)).toFixed(0)} / ${Math.max(...list.map((p) => p.pytorchPeakRssMB)).toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

/** Markdown table: per size, each engine's median img/s at its highest thread count over its
 * median at one thread (the same run's medians), and native's highest against PyTorch's. */
export function threadScalingTable(pairs: readonly ComparisonPair[]): string {
  const sizes = [...new Set(pairs.map((p) => p.size))];
  const lines = [
    '| size | threads | native 2T/1T | native inline 2T/1T | PyTorch 2T/1T | native (most threads) / PyTorch (most threads) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const size of sizes) {
    const at = (threads: number) => pairs.filter((p) => p.size === size && p.threads === threads);
    const counts = [...new Set(pairs.filter((p) => p.size === size).map((p) => p.threads))];
    const most = Math.max(...counts);
    if (!counts.includes(1) || most === 1) continue;
    const med = (threads: number, pick: (p: ComparisonPair) => number | undefined) =>
      median(at(threads).map((p) => pick(p) ?? Number.NaN));
    const scale = (pick: (p: ComparisonPair) => number | undefined) =>
      (med(most, pick) / med(1, pick)).toFixed(2);
    lines.push(
      `| ${size}x${size} | 1 -> ${most} | ${scale((p) => p.nativeImgPerSec)} | ${scale((p) => p.inlineImgPerSec)} | ${scale((p) => p.pytorchImgPerSec)} | ${(med(most, (p) => p.nativeImgPerSec) / med(most, (p) => p.pytorchImgPerSec)).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Runs every (size, threads) configuration `repeat` times, native and PyTorch back to back (the
 * order alternates between repeats), printing a JSON line per pair and the table at the end.
 * Returns the pairs, or undefined (after printing why) when PyTorch is not installed.
 */
export async function runPytorchComparison(
  options: PytorchComparisonOptions,
): Promise<ComparisonPair[] | undefined> {
  const reason = pytorchUnavailableReason();
  if (reason !== undefined) {
    console.log(JSON.stringify({ comparison: 'native/pytorch', skipped: true, reason }));
    return undefined;
  }
  const modes = options.nativeKernels ?? ['queued'];
  const primary = modes[0] ?? 'queued';
  const pairs: ComparisonPair[] = [];
  for (let repeat = 0; repeat < options.repeat; repeat++) {
    for (const size of options.sizes) {
      for (const threads of options.threads) {
        // Each contender goes first in turn, so a slow phase of the host hits each alike.
        const contenders = [
          ...modes.map((m) => m as NativeKernelMode | 'pytorch'),
          'pytorch' as const,
        ];
        const shift = repeat % contenders.length;
        const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
        const runs = new Map<NativeKernelMode | 'pytorch', EngineRun>();
        for (const who of order) {
          runs.set(
            who,
            who === 'pytorch'
              ? await runPytorch(size, threads, options)
              : await runNative(size, threads, options, who),
          );
        }
        const native = runs.get(primary) as EngineRun;
        const pytorch = runs.get('pytorch') as EngineRun;
        const inline = primary === 'inline' ? undefined : runs.get('inline');
        const pair: ComparisonPair = {
          comparison: 'native/pytorch',
          size,
          threads,
          batch: options.batch,
          repeat,
          nativeImgPerSec: native.imgPerSec,
          pytorchImgPerSec: pytorch.imgPerSec,
          ratio: round(native.imgPerSec / pytorch.imgPerSec, 3),
          nativePeakRssMB: native.peakRssMB,
          pytorchPeakRssMB: pytorch.peakRssMB,
          nativeKernels: primary,
          ...(inline === undefined
            ? {}
            : { inlineImgPerSec: inline.imgPerSec, inlinePeakRssMB: inline.peakRssMB }),
        };
        pairs.push(pair);
        console.log(JSON.stringify(pair));
      }
    }
  }
  console.log(comparisonTable(pairs));
  console.log(threadScalingTable(pairs));
  return pairs;
}

function parseList(text: string | undefined, fallback: readonly number[]): number[] {
  if (text === undefined) return [...fallback];
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`expected a comma-separated list of positive integers, got ${text}`);
  }
  return values;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      repeat: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      batch: { type: 'string' },
      classes: { type: 'string' },
      sizes: { type: 'string' },
      threads: { type: 'string' },
      'native-kernels': { type: 'string' },
    },
    strict: true,
  });
  const nativeKernels = (values['native-kernels'] ?? 'queued').split(',').map((m) => {
    if (!(NATIVE_KERNEL_MODES as readonly string[]).includes(m)) {
      throw new Error(
        `unknown native kernel mode ${JSON.stringify(m)}; allowed: ${NATIVE_KERNEL_MODES.join(', ')}`,
      );
    }
    return m as NativeKernelMode;
  });
  const int = (text: string | undefined, fallback: number) =>
    parseList(text, [fallback])[0] ?? fallback;
  await runPytorchComparison({
    sizes: parseList(values.sizes, DEFAULT_COMPARISON_SIZES),
    threads: parseList(values.threads, DEFAULT_COMPARISON_THREADS),
    batch: int(values.batch, 8),
    steps: int(values.steps, DEFAULT_COMPARISON_STEPS),
    warmup: int(values.warmup, 1),
    repeat: int(values.repeat, 3),
    classes: int(values.classes, 10),
    nativeKernels,
  });
}
