// The machine, not the process: a fixed small sweep's training throughput on this machine at each
// split of its cores into W worker processes x T engine threads, through a real local stack
// (redis-server, s3rver, the API and W workers started as the tests start them, each worker with
// SETRAIN_ENGINE_THREADS=T), one fresh stack per run, the splits interleaved across repeats.
//
//   npm run bench:split -- [--splits 1x2,2x1] [--trials 4] [--epochs 3] [--images 96] [--size 75]
//                          [--repeat 2] [--engine native] [--timeout-s 900]
//
// Default splits on a C-core machine: 1xC (one worker on every core, what a worker does when
// SETRAIN_ENGINE_THREADS is unset) and Cx1; --splits adds others (W*T above C oversubscribes the
// cores). The sweep: a grid of --trials seRatio values, --epochs epochs each, batch 8, on --images
// seeded stripe images (a quarter held out for validation), parallelism W. Machine img/s = training
// images seen by every trial / (last trial's finish - first trial's start), so it counts each
// trial's model build, validation and checkpoints as a sweep pays them; the baseline is the 1xC
// split measured in the same run, compared by the same statistic (median over repeats). Also
// reported: the sweep's wall time from submit to finish and each trial's median in-epoch img/s.
// Prints one JSON object.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import { EXIT_CODES, runCli } from '@setrain/cli';
import {
  isFinishedSweepStatus,
  sweepDetailSchema,
  trialDetailSchema,
  type SweepSpecInput,
  type TrialDetail,
} from '@setrain/protocol';
import { splitIndices } from '@setrain/worker';

import { writeDatasetFolder } from '../test/demo/run-demo.js';
import { makeStripesDataset } from '../test/fixtures/stripes-dataset.js';
import { tempDir } from '../test/harness/index.js';
import { startLocalStack, type LocalStack } from '../test/stack/local-stack.js';
import { intOption } from './bench/options.js';
import { median, round } from './bench/stats.js';

const VALIDATION_SPLIT = 0.25;
const SEED = 1;
const BATCH = 8;
const DATASET_SEED = 7;

/** One split of the machine's cores. */
interface Split {
  workers: number;
  threads: number;
}

interface Options {
  splits: Split[];
  trials: number;
  epochs: number;
  images: number;
  size: number;
  repeat: number;
  engine: string;
  timeoutMs: number;
}

/** One sweep on one split. */
interface SplitRun {
  machineImgPerSec: number;
  sweepWallS: number;
  /** Median over trials of each trial's median in-epoch img/s (epochs after the first). */
  trialImgPerSec: number;
  /** Median over trials of start-to-finish time outside its epochs (model build, data, final
   * evaluation and uploads, the trial process's start and end). */
  trialOutsideEpochsS: number;
}

const label = (s: Split): string => `${s.workers}x${s.threads}`;

function parseSplits(text: string | undefined, cores: number): Split[] {
  if (text === undefined) {
    // On one core both defaults are the same 1x1 split.
    const oneWorker = { workers: 1, threads: cores };
    return cores === 1 ? [oneWorker] : [oneWorker, { workers: cores, threads: 1 }];
  }
  return text.split(',').map((part) => {
    const match = /^(\d+)x(\d+)$/.exec(part.trim());
    const workers = Number(match?.[1]);
    const threads = Number(match?.[2]);
    if (match === null || workers < 1 || threads < 1 || workers > 16 || threads > 256) {
      throw new Error(
        `--splits takes WxT pairs separated by commas (workers 1-16, threads 1-256), e.g. 1x2,2x1; got ${part}`,
      );
    }
    return { workers, threads };
  });
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      splits: { type: 'string' },
      trials: { type: 'string' },
      epochs: { type: 'string' },
      images: { type: 'string' },
      size: { type: 'string' },
      repeat: { type: 'string' },
      engine: { type: 'string', default: 'native' },
      'timeout-s': { type: 'string' },
    },
    strict: true,
  });
  return {
    splits: parseSplits(values.splits, availableParallelism()),
    trials: intOption('trials', values.trials, 4, 1, 64),
    epochs: intOption('epochs', values.epochs, 3, 1, 100),
    images: intOption('images', values.images, 96, 8, 10_000),
    size: intOption('size', values.size, 75, 75, 299),
    repeat: intOption('repeat', values.repeat, 2, 1, 20),
    engine: values.engine,
    timeoutMs: intOption('timeout-s', values['timeout-s'], 900, 10, 7200) * 1000,
  };
}

/** seRatio values of the grid: one trial each. */
function seRatios(trials: number): number[] {
  return Array.from({ length: trials }, (_, i) => 2 + 2 * i);
}

async function uploadDataset(stack: LocalStack, images: number, workDir: string): Promise<string> {
  const dataset = await makeStripesDataset({ count: images, seed: DATASET_SEED });
  const folder = join(workDir, 'stripes');
  await writeDatasetFolder(folder, dataset);
  const uri = `s3://${stack.bucket}/datasets/stripes`;
  const output: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output.push(chunk.toString());
      done();
    },
  });
  const code = await runCli(['dataset', 'upload', folder, uri], {
    env: { ...stack.cliEnv, XDG_CONFIG_HOME: join(workDir, 'config') },
    in: Readable.from([]),
    out: sink,
    err: sink,
  });
  if (code !== EXIT_CODES.ok)
    throw new Error(`dataset upload failed (exit ${code}):\n${output.join('')}`);
  return `${uri}/manifest.jsonl`;
}

async function api<T>(
  stack: LocalStack,
  path: string,
  parse: (v: unknown) => T,
  body?: object,
): Promise<T> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok)
    throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  return parse(await response.json());
}

async function runSplit(split: Split, o: Options): Promise<SplitRun> {
  const work = await tempDir('bench-split');
  const stack = await startLocalStack({
    workers: split.workers,
    engine: o.engine,
    workerEnv: { SETRAIN_ENGINE_THREADS: String(split.threads) },
  });
  try {
    const manifest = await uploadDataset(stack, o.images, work.path);
    const spec: SweepSpecInput = {
      name: `bench-split-${label(split)}`,
      dataset: manifest,
      model: { inputSize: o.size },
      training: {
        epochs: o.epochs,
        batchSize: BATCH,
        optimizer: 'adam',
        validationSplit: VALIDATION_SPLIT,
        seed: SEED,
      },
      search: { strategy: 'grid', parameters: { seRatio: seRatios(o.trials), dropout: [0] } },
      objective: { metric: 'val_loss', goal: 'minimize' },
      parallelism: split.workers,
    };
    const submitted = Date.now();
    const created = await api(stack, '/v1/sweeps', (v) => sweepDetailSchema.parse(v), spec);
    const deadline = submitted + o.timeoutMs;
    let detail = created;
    while (!isFinishedSweepStatus(detail.status)) {
      if (Date.now() > deadline)
        throw new Error(`sweep on ${label(split)} still ${detail.status} after ${o.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      detail = await api(stack, `/v1/sweeps/${created.id}`, (v) => sweepDetailSchema.parse(v));
    }
    const sweepWallS = (Date.now() - submitted) / 1000;
    if (detail.status !== 'completed' || detail.counts.completed !== o.trials) {
      throw new Error(
        `sweep on ${label(split)} ended ${detail.status} (${JSON.stringify(detail.counts)}): ${detail.reason ?? ''}`,
      );
    }
    const trials: TrialDetail[] = [];
    for (const t of detail.trials) {
      trials.push(await api(stack, `/v1/trials/${t.trialId}`, (v) => trialDetailSchema.parse(v)));
    }
    const trainImages = splitIndices(o.images, VALIDATION_SPLIT, SEED).train.length;
    const starts = trials.map((t) => Date.parse(t.startedAt ?? ''));
    const ends = trials.map((t) => Date.parse(t.finishedAt ?? ''));
    const span = (Math.max(...ends) - Math.min(...starts)) / 1000;
    if (!Number.isFinite(span) || span <= 0)
      throw new Error(`trials on ${label(split)} lack start or finish times`);
    const seen = trials.reduce((sum, t) => sum + t.epochsCompleted * trainImages, 0);
    const trialRates = trials.map((t) => median(t.epochs.slice(1).map((e) => e.imagesPerSec)));
    const outside = trials.map(
      (t, i) =>
        ((ends[i] ?? 0) - (starts[i] ?? 0) - t.epochs.reduce((sum, e) => sum + e.durationMs, 0)) /
        1000,
    );
    return {
      machineImgPerSec: round(seen / span, 2),
      sweepWallS: round(sweepWallS, 1),
      trialImgPerSec: round(median(trialRates), 2),
      trialOutsideEpochsS: round(median(outside), 1),
    };
  } finally {
    await stack.stop();
    await work.cleanup();
  }
}

// The AWS SDK's notice about this Node version is noise here (as in the demo).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const options = parseOptions(process.argv.slice(2));
const runs = new Map<string, SplitRun[]>(options.splits.map((s) => [label(s), []]));
for (let r = 0; r < options.repeat; r++) {
  // Alternate the order so a slow start of the machine does not always hit the same split.
  const order = r % 2 === 0 ? options.splits : [...options.splits].reverse();
  for (const split of order) {
    const run = await runSplit(split, options);
    runs.get(label(split))?.push(run);
    process.stderr.write(`${label(split)} repeat ${r + 1}: ${JSON.stringify(run)}\n`);
  }
}
const baseline = options.splits[0] ?? { workers: 1, threads: 1 };
const baselineRate = median((runs.get(label(baseline)) ?? []).map((r) => r.machineImgPerSec));
const results = options.splits.map((split) => {
  const list = runs.get(label(split)) ?? [];
  const rate = median(list.map((r) => r.machineImgPerSec));
  return {
    split: label(split),
    workers: split.workers,
    threadsPerWorker: split.threads,
    machineImgPerSec: rate,
    vsBaseline: round(rate / baselineRate, 2),
    runs: list,
  };
});
console.log(
  JSON.stringify({
    benchmark: 'split',
    cores: availableParallelism(),
    engine: options.engine,
    sweep: {
      trials: options.trials,
      epochs: options.epochs,
      images: options.images,
      trainImages: splitIndices(options.images, VALIDATION_SPLIT, SEED).train.length,
      inputSize: options.size,
      batch: BATCH,
    },
    repeat: options.repeat,
    statistic: 'median over repeats',
    baseline: label(baseline),
    best: results.reduce((a, b) => (b.machineImgPerSec > a.machineImgPerSec ? b : a)).split,
    results,
  }),
);
