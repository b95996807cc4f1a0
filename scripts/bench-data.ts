// The worker's data pipeline, from S3 object to batch tensor, against sharp's raw decode+resize of
// the same images in the same run, and the share of a real training step spent waiting for data.
//
//   npm run bench:data -- [--images 64] [--image-size 320] [--size 75] [--batch 8] [--repeat 3]
//                         [--engine auto] [--epochs 2]
//
// One s3rver on 127.0.0.1 holds a generated dataset (seeded JPEGs of --image-size pixels). Per
// repeat, interleaved, medians reported:
// - baseline: sharp decodes and resizes every image (bytes in memory) to the trial's base size,
//   with the pipeline's concurrency: the cost the pipeline cannot avoid on a cold cache;
// - download only: every object fetched into memory with the same concurrency (the S3 floor);
// - cold: an empty cache directory, then prepareData (list, download, decode into the decoded
//   cache) and one epoch of batches turned into tensors;
// - warm epoch: five more epochs from the open decoded images (what every later epoch costs);
// - warm trial: prepareData again on the same cache (a second trial on the machine) plus an epoch.
// Each phase also records its CPU: this process's (every thread: sharp's, libuv's) and s3rver's
// (its process group, from /proc), per image. `coldCpuVsFloor` divides the cold phase's CPU by what
// it cannot avoid, measured in the same repeat: the download-only phase (client and server) plus
// the baseline's decode. On a shared two-core machine CPU per image is steadier than images/s.
// Then one real trial (the worker's forked trainer process, --epochs epochs) reports each step's
// data wait; the share is sum(wait) / sum(wait + step). Prints one JSON object.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ENGINE_NAMES, initEngine, type EngineName } from '@setrain/engine';
import {
  DEFAULT_MAX_TRIAL_MEMORY_BYTES,
  mapWithConcurrency,
  trialPayloadSchema,
} from '@setrain/protocol';
import { getObjectBytes } from '@setrain/storage';
import {
  baseSizeFor,
  chunk,
  DEFAULT_DOWNLOAD_CONCURRENCY,
  forkTrialLauncher,
  loadBatch,
  prepareData,
  type PrepareDataRequest,
  type PreparedData,
  type TrialOutcome,
} from '@setrain/worker';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';

import { startS3, type S3Server } from '../test/harness/index.js';
import {
  uploadShapesDataset,
  type UploadedShapesDataset,
} from '../test/fixtures/shapes-dataset.js';
import { processGroupCpuMs } from './bench/process-group-cpu.js';
import { median, round } from './bench/stats.js';
import { intOption as int } from './bench/options.js';

/** Epochs the warm-epoch phase runs in one measurement. */
const WARM_EPOCHS = 5;

/** Default augmentation of a trial spec (flip, crop 0.875): the base size is the crop's source. */
const AUGMENTATION = { flip: true, crop: true, cropFraction: 0.875 };

interface Options {
  images: number;
  imageSize: number;
  size: number;
  batch: number;
  repeat: number;
  engine: EngineName;
  epochs: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      images: { type: 'string' },
      'image-size': { type: 'string' },
      size: { type: 'string' },
      batch: { type: 'string' },
      repeat: { type: 'string' },
      engine: { type: 'string' },
      epochs: { type: 'string' },
    },
    strict: true,
  });
  return {
    images: int('images', values.images, 64, 2),
    imageSize: int('image-size', values['image-size'], 320, 16),
    size: int('size', values.size, 75, 75),
    batch: int('batch', values.batch, 8, 1),
    repeat: int('repeat', values.repeat, 3, 1),
    engine: engineName(values.engine ?? 'auto'),
    epochs: int('epochs', values.epochs, 2, 1),
  };
}

function engineName(text: string): EngineName {
  const found = ENGINE_NAMES.find((name) => name === text);
  if (found === undefined) {
    throw new Error(`--engine must be one of ${ENGINE_NAMES.join(', ')}, got ${text}`);
  }
  return found;
}

/** What one phase cost: wall time, and CPU in this process (all its threads: sharp's, libuv's)
 * and in s3rver's process group. */
interface PhaseCost {
  /** Images the phase went through. */
  images: number;
  seconds: number;
  nodeCpuMs: number;
  s3CpuMs: number;
}

async function measured(
  s3: S3Server,
  images: number,
  work: () => Promise<unknown>,
): Promise<PhaseCost> {
  const s3Before = (await processGroupCpuMs(s3.process.pid)) ?? 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const s3After = (await processGroupCpuMs(s3.process.pid)) ?? 0;
  return {
    images,
    seconds,
    nodeCpuMs: (used.user + used.system) / 1000,
    s3CpuMs: s3After - s3Before,
  };
}

/** One epoch of batches (every image, in order) turned into tensors and released. */
async function epochToTensors(data: PreparedData, o: Options): Promise<void> {
  const plans = data.samples.map((_, index) => ({ index, flip: false, cropX: 5, cropY: 5 }));
  for (const batch of chunk(plans, o.batch)) {
    const classes = data.dataset.classes.length;
    const arrays = await loadBatch(data.images, data.samples, batch, o.size, classes);
    tf.tensor4d(arrays.pixels, [arrays.count, o.size, o.size, 3]).dispose();
  }
}

const PHASES = ['baseline', 'downloadOnly', 'cold', 'warmEpoch', 'warmTrial'] as const;
type Phase = (typeof PHASES)[number];

/** Per phase, one cost per repeat. */
type PipelineCosts = Record<Phase, PhaseCost[]>;

async function measurePipeline(
  s3: S3Server,
  dataset: UploadedShapesDataset,
  o: Options,
): Promise<PipelineCosts> {
  const base = baseSizeFor(o.size, AUGMENTATION);
  const costs: PipelineCosts = {
    baseline: [],
    downloadOnly: [],
    cold: [],
    warmEpoch: [],
    warmTrial: [],
  };
  for (let repeat = 0; repeat < o.repeat; repeat++) {
    costs.baseline.push(
      await measured(s3, o.images, () =>
        mapWithConcurrency(dataset.images, DEFAULT_DOWNLOAD_CONCURRENCY, async (image) => {
          await sharp(image.bytes)
            .resize(base, base, { fit: 'fill' })
            .removeAlpha()
            .raw()
            .toBuffer();
        }),
      ),
    );
    costs.downloadOnly.push(
      await measured(s3, o.images, () =>
        mapWithConcurrency(dataset.images, DEFAULT_DOWNLOAD_CONCURRENCY, async (image) => {
          await getObjectBytes(s3.client, dataset.bucket, `${dataset.prefix}/${image.key}`);
        }),
      ),
    );
    const cacheDir = await mkdtemp(join(tmpdir(), 'setrain-bench-data-'));
    const request: PrepareDataRequest = {
      datasetUri: dataset.manifestUri,
      baseSize: base,
      validationSplit: 0.2,
      seed: 1,
      cacheDir,
      downloadConcurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
    };
    try {
      let data: PreparedData | undefined;
      const cold = await measured(s3, o.images, async () => {
        data = await prepareData(s3.client, request);
        await epochToTensors(data, o);
      });
      if (data === undefined || !data.images.built) throw new Error('the cold run hit a cache');
      const first = data;
      // Several epochs in one measurement: one epoch of 64 decoded images takes a few ms, too
      // short to time on a shared machine.
      const warmEpoch = await measured(s3, o.images * WARM_EPOCHS, async () => {
        for (let epoch = 0; epoch < WARM_EPOCHS; epoch++) await epochToTensors(first, o);
      });
      let again: PreparedData | undefined;
      const warmTrial = await measured(s3, o.images, async () => {
        again = await prepareData(s3.client, request);
        await epochToTensors(again, o);
      });
      if (again?.images.built !== false) throw new Error('the warm trial decoded again');
      await Promise.all([first.images.close(), again.images.close()]);
      costs.cold.push(cold);
      costs.warmEpoch.push(warmEpoch);
      costs.warmTrial.push(warmTrial);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
  return costs;
}

interface DataWait {
  engine: string;
  steps: number;
  medianStepMs: number;
  medianWaitMs: number;
  waitShare: number;
}

/** One real trial in the worker's trainer process; collects each step's data wait. */
async function measureDataWait(
  s3: S3Server,
  dataset: UploadedShapesDataset,
  o: Options,
): Promise<DataWait> {
  const bucket = await s3.createBucket();
  const cacheDir = await mkdtemp(join(tmpdir(), 'setrain-bench-trial-'));
  const steps: { seconds: number; wait: number }[] = [];
  let engine: string = o.engine;
  try {
    const payload = trialPayloadSchema.parse({
      sweepId: 'bench-data',
      trialId: 'bench-data.1',
      trialNumber: 1,
      dataset: dataset.manifestUri,
      model: { inputSize: o.size },
      training: { epochs: o.epochs, batchSize: o.batch, validationSplit: 0.2, seed: 1 },
      objective: { metric: 'val_loss', goal: 'minimize' },
      params: {},
      artifactsBucket: bucket,
    });
    const trial = forkTrialLauncher()(
      {
        payload,
        s3: s3.config,
        engine: o.engine,
        workerId: 'bench-data',
        cacheDir,
        downloadConcurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
        // The dataset lives in its own bucket, apart from the artifacts: allow it, as a worker's
        // SETRAIN_DATA_BUCKETS would (without this the trial fails DATA_BUCKET_NOT_ALLOWED).
        limits: {
          maxTrialMemoryBytes: DEFAULT_MAX_TRIAL_MEMORY_BYTES,
          dataBuckets: [dataset.bucket],
        },
      },
      {
        onMetric: (event) => {
          if (event.kind === 'engine') engine = event.engine;
          if (event.kind === 'step') {
            steps.push({ seconds: event.seconds, wait: event.dataWaitSeconds ?? 0 });
          }
        },
      },
    );
    const outcome: TrialOutcome = await trial.outcome;
    if (outcome.kind !== 'completed') {
      throw new Error(`the benchmark trial ended ${outcome.kind}: ${JSON.stringify(outcome)}`);
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  const wait = steps.reduce((sum, s) => sum + s.wait, 0);
  const total = steps.reduce((sum, s) => sum + s.wait + s.seconds, 0);
  return {
    engine,
    steps: steps.length,
    medianStepMs: round(median(steps.map((s) => s.seconds * 1000)), 1),
    medianWaitMs: round(median(steps.map((s) => s.wait * 1000)), 2),
    waitShare: round(wait / total, 4),
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  // Tensors need a backend in this process too (the trial's own process picks its engine).
  await initEngine({ backend: 'cpu' });
  const s3 = await startS3();
  try {
    const bucket = await s3.createBucket();
    const dataset = await uploadShapesDataset(s3.client, bucket, 'datasets/bench', {
      count: o.images,
      size: o.imageSize,
      seed: 5,
    });
    const costs = await measurePipeline(s3, dataset, o);
    const dataWait = await measureDataWait(s3, dataset, o);
    const rates = (phase: Phase): number[] => costs[phase].map((c) => c.images / c.seconds);
    const baseline = median(rates('baseline'));
    const ratio = (phase: Phase): number => round(median(rates(phase)) / baseline, 2);
    const cpu = (c: PhaseCost): number => c.nodeCpuMs + c.s3CpuMs;
    // The cold path's CPU against what it cannot avoid, repeat by repeat: fetching every object
    // (client and server) plus decoding it. Steadier than img/s on a shared machine, and says how
    // much the caches' bookkeeping adds.
    const coldCpuVsFloor = costs.cold.map((cold, i) => {
      const download = costs.downloadOnly[i] ?? assert.fail();
      const decode = costs.baseline[i] ?? assert.fail();
      return cpu(cold) / (cpu(download) + decode.nodeCpuMs);
    });
    const cpuMsPerImage = Object.fromEntries(
      PHASES.map((phase) => [
        phase,
        {
          node: round(median(costs[phase].map((c) => c.nodeCpuMs / c.images)), 2),
          s3rver: round(median(costs[phase].map((c) => c.s3CpuMs / c.images)), 2),
        },
      ]),
    );
    console.log(
      JSON.stringify(
        {
          benchmark: 'data',
          images: o.images,
          imageSize: o.imageSize,
          inputSize: o.size,
          baseSize: baseSizeFor(o.size, AUGMENTATION),
          batch: o.batch,
          repeat: o.repeat,
          statistic: 'median over repeats, images/s',
          baselineSharpImgPerSec: round(baseline, 1),
          downloadOnlyImgPerSec: round(median(rates('downloadOnly')), 1),
          coldImgPerSec: round(median(rates('cold')), 1),
          warmEpochImgPerSec: round(median(rates('warmEpoch')), 1),
          warmTrialImgPerSec: round(median(rates('warmTrial')), 1),
          coldVsBaseline: ratio('cold'),
          warmEpochVsBaseline: ratio('warmEpoch'),
          warmTrialVsBaseline: ratio('warmTrial'),
          cpuMsPerImage,
          coldCpuVsFloor: round(median(coldCpuVsFloor), 2),
          goals: { coldVsBaseline: 0.8, warmEpochVsBaseline: 20, dataWaitShareMax: 0.02 },
          dataWait,
          runs: {
            ...Object.fromEntries(
              PHASES.map((phase) => [phase, rates(phase).map((v) => round(v, 1))]),
            ),
            coldCpuVsFloor: coldCpuVsFloor.map((v) => round(v, 2)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await s3.stop();
  }
}

await main();
