/**
 * The demo: the whole mission on one machine. Starts a local stack (Redis, S3, API, two workers),
 * generates a labelled image dataset, and then drives it exactly as a user would, through the
 * `setrain` CLI's own code: upload the dataset, submit a sweep and watch it, fetch the best
 * checkpoint, predict on held-out images.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { Readable } from 'node:stream';

import { EXIT_CODES, loadCheckpoint, predictImages, runCli } from '@setrain/cli';
import { initEngine } from '@setrain/engine';

import { COLOURS } from '../fixtures/shapes-dataset.js';
import {
  ORIENTATIONS,
  makeStripesDataset,
  type StripesImage,
} from '../fixtures/stripes-dataset.js';
import { tempDir } from '../harness/index.js';
import { startLocalStack, type LocalStack } from '../stack/local-stack.js';

/**
 * Options of {@link runDemo}. The defaults are the smallest budget measured to learn both labels
 * (held-out accuracy >= 80% for orientation, colour and both): one trial of 6 epochs on 96 images
 * reached 67-89% / 85-93% / 67-74% (depending on the seeded split), 10 epochs on 120 images 89% /
 * 100% / 89% (one trial, best epoch 8).
 */
export interface DemoOptions {
  /** Training images generated (a quarter is held out for validation by the sweep). Default 120. */
  trainImages?: number;
  /** Images generated for the final held-out accuracy check. Default 27. */
  heldOutImages?: number;
  /** Epochs per trial. Default 10. */
  epochs?: number;
  /** seRatio values swept (one trial each, times the dropout values). Default [8, 16]. */
  seRatios?: number[];
  /** dropout values swept. Default [0]: tfjs does not seed dropout masks, and without dropout the
   * demo is deterministic (the accuracies measured for the defaults are the ones you get). */
  dropouts?: number[];
  /** Worker processes. Default 2. */
  workers?: number;
  /** Engine of the workers. Default auto. */
  engine?: string;
  /** Reuse a running Redis at this URL instead of starting redis-server. */
  redisUrl?: string;
  /** Where progress goes. */
  out: Writable & { isTTY?: boolean; columns?: number };
}

export interface DemoResult {
  sweepId: string;
  bestTrialId: string;
  heldOut: number;
  accuracy: { orientation: number; colour: number; both: number };
  chance: { orientation: number; colour: number; both: number };
  elapsedSeconds: number;
}

export const DEMO_INPUT_SIZE = 75;
export const DEFAULT_DEMO_TRAIN_IMAGES = 120;
export const DEFAULT_DEMO_EPOCHS = 10;
/** What the demo calls learning: every held-out accuracy at least this. */
export const DEMO_LEARNED_ACCURACY = 0.8;

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Writes generated images and a labels.csv: the folder layout `setrain dataset upload` reads. */
export async function writeDatasetFolder(
  dir: string,
  dataset: { images: readonly StripesImage[] },
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rows = ['file,labels'];
  const paths: string[] = [];
  for (const [i, image] of dataset.images.entries()) {
    const file = `${String(i).padStart(4, '0')}.${image.key.endsWith('.png') ? 'png' : 'jpg'}`;
    await writeFile(join(dir, file), image.bytes);
    rows.push(`${csvCell(file)},${csvCell(image.labels.join(';'))}`);
    paths.push(join(dir, file));
  }
  await writeFile(join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
  return paths;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = options.out;
  const started = Date.now();
  const say = (line: string) => out.write(`${line}\n`);
  const seRatios = options.seRatios ?? [8, 16];
  const dropouts = options.dropouts ?? [0];
  const trials = seRatios.length * dropouts.length;
  const work = await tempDir('demo');
  let stack: LocalStack | undefined;
  try {
    say(
      `[1/6] starting redis-server, an S3-compatible server (s3rver), the API and ${options.workers ?? 2} workers`,
    );
    stack = await startLocalStack({
      workers: options.workers ?? 2,
      ...(options.engine !== undefined ? { engine: options.engine } : {}),
      ...(options.redisUrl !== undefined ? { redisUrl: options.redisUrl } : {}),
    });
    say(`      API at ${stack.apiUrl}, S3 at ${stack.s3.endpoint}, bucket ${stack.bucket}`);
    const cli = async (...argv: string[]): Promise<void> => {
      say(`      $ setrain ${argv.join(' ')}`);
      const code = await runCli(argv, {
        env: { ...stack?.cliEnv, XDG_CONFIG_HOME: join(work.path, 'config') },
        in: Readable.from([]),
        out,
        err: out,
      });
      if (code !== EXIT_CODES.ok)
        throw new Error(`setrain ${argv[0]} ${argv[1] ?? ''} failed (exit ${code})`);
    };

    const trainCount = options.trainImages ?? DEFAULT_DEMO_TRAIN_IMAGES;
    say(
      `[2/6] generating ${trainCount} images of coloured stripes, each labelled with its orientation and colour`,
    );
    const train = await makeStripesDataset({ count: trainCount, seed: 7 });
    const datasetDir = join(work.path, 'stripes');
    await writeDatasetFolder(datasetDir, train);
    const datasetUri = `s3://${stack.bucket}/datasets/stripes`;

    say('[3/6] uploading it');
    await cli('dataset', 'upload', datasetDir, datasetUri);

    say(`[4/6] submitting a sweep of ${trials} trials (seRatio x dropout) and watching it`);
    const specPath = join(work.path, 'sweep.yaml');
    await writeFile(
      specPath,
      [
        'name: demo-stripes',
        `dataset: ${datasetUri}/manifest.jsonl`,
        'model:',
        `  inputSize: ${DEMO_INPUT_SIZE}`,
        '  headActivation: sigmoid',
        'training:',
        `  epochs: ${options.epochs ?? DEFAULT_DEMO_EPOCHS}`,
        '  batchSize: 8',
        '  optimizer: adam',
        '  learningRate: 0.002',
        '  validationSplit: 0.25',
        '  seed: 1',
        'search:',
        '  strategy: grid',
        '  parameters:',
        `    seRatio: [${seRatios.join(', ')}]`,
        `    dropout: [${dropouts.join(', ')}]`,
        'objective: { metric: val_loss, goal: minimize }',
        `parallelism: ${options.workers ?? 2}`,
        '',
      ].join('\n'),
    );
    // The sweep id is printed by submit; list afterwards to get it for the next steps.
    await cli('sweep', 'submit', specPath, '--watch', '--interval', '2');
    const listed = await fetch(`${stack.apiUrl}/v1/sweeps?limit=1`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    const { sweeps } = (await listed.json()) as {
      sweeps: { id: string; best: { trialId: string } | null }[];
    };
    const sweep = sweeps[0];
    if (!sweep?.best) throw new Error('the sweep finished without a best trial');

    say('[5/6] fetching the best checkpoint');
    const checkpointDir = join(work.path, 'best');
    await cli('fetch-best', sweep.id, '-o', checkpointDir);

    const heldOutCount = options.heldOutImages ?? 27;
    say(`[6/6] predicting ${heldOutCount} held-out images the model never saw`);
    const heldOut = await makeStripesDataset({ count: heldOutCount, seed: 1001 });
    const heldOutPaths = await writeDatasetFolder(join(work.path, 'held-out'), heldOut);
    await cli('predict', checkpointDir, ...heldOutPaths.slice(0, 3));
    const engine = await initEngine({ backend: 'auto' });
    const checkpoint = await loadCheckpoint(checkpointDir);
    const predictions = await predictImages(checkpoint, heldOutPaths, {
      topK: checkpoint.classes.length,
    });
    checkpoint.model.dispose();
    // Score orientation and colour separately: the best-scoring label of each kind.
    let orientationRight = 0;
    let colourRight = 0;
    let bothRight = 0;
    predictions.forEach((p, i) => {
      const truth = heldOut.images[i];
      const bestOf = (names: readonly string[]) =>
        p.top.find((t) => names.includes(t.label))?.label;
      const orientationOk = bestOf(ORIENTATIONS) === truth?.orientation;
      const colourOk = bestOf(COLOURS) === truth?.colour;
      orientationRight += Number(orientationOk);
      colourRight += Number(colourOk);
      bothRight += Number(orientationOk && colourOk);
    });
    const n = predictions.length;
    const result: DemoResult = {
      sweepId: sweep.id,
      bestTrialId: sweep.best.trialId,
      heldOut: n,
      accuracy: {
        orientation: orientationRight / n,
        colour: colourRight / n,
        both: bothRight / n,
      },
      chance: {
        orientation: 1 / ORIENTATIONS.length,
        colour: 1 / COLOURS.length,
        both: 1 / (ORIENTATIONS.length * COLOURS.length),
      },
      elapsedSeconds: Math.round((Date.now() - started) / 1000),
    };
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    say(
      `      held-out accuracy (engine ${engine.backend}): orientation ${pct(result.accuracy.orientation)} (chance ${pct(result.chance.orientation)}), ` +
        `colour ${pct(result.accuracy.colour)} (chance ${pct(result.chance.colour)}), ` +
        `both ${pct(result.accuracy.both)} (chance ${pct(result.chance.both)})`,
    );
    say(`done in ${result.elapsedSeconds} s.`);
    say('');
    say('The same against a real deployment (docker compose in infra/, see README "Deployment"):');
    say('  export SETRAIN_API_URL=http://<api-host>:8080 SETRAIN_API_KEY=<key>');
    say(
      '  export S3_ENDPOINT=http://<minio-host>:9000 S3_ACCESS_KEY_ID=... S3_SECRET_ACCESS_KEY=...',
    );
    say('  npx setrain dataset upload <folder> s3://<bucket>/datasets/<name>');
    say('  npx setrain sweep submit sweep.yaml --watch');
    say('  npx setrain fetch-best <sweepId> -o best && npx setrain predict best <image...>');
    return result;
  } finally {
    say('shutting down the local stack');
    await stack?.stop();
    await work.cleanup();
  }
}
