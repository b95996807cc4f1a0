// Peak RSS of real SE-Inception v3 training steps against the per-trial memory estimate
// (packages/protocol/src/trial-memory.ts), to calibrate and check its formula.
//
//   npm run bench:memory -- [--engine native] [--sizes 75,107,139] [--batches 2,8] [--steps 2]
//                           [--optimizer adam] [--se-ratio 11] [--classes 10] [--threads 1]
//
// Every (size, batch) runs in its own child process (peak RSS is per process), which builds and
// compiles the model, trains --steps batches of random pixels and prints its peak RSS
// (process.resourceUsage().maxRSS). The parent prints one JSON line per run with the estimate
// and the ratio estimate / measured, then the smallest and largest ratio.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { initEngine, type EngineName } from '@setrain/engine';
import { buildSeInceptionV3 } from '@setrain/model';
import { estimateTrialMemory, type OptimizerName } from '@setrain/protocol';
import * as tf from '@tensorflow/tfjs-core';
// The layers package registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'native' },
    sizes: { type: 'string', default: '75,107,139' },
    batches: { type: 'string', default: '2,8' },
    steps: { type: 'string', default: '2' },
    optimizer: { type: 'string', default: 'adam' },
    'se-ratio': { type: 'string', default: '11' },
    classes: { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    child: { type: 'string' },
  },
});

const list = (text: string): number[] => text.split(',').map((v) => Number.parseInt(v, 10));
const engine = values.engine as EngineName;
const optimizer = values.optimizer as OptimizerName;
const seRatio = Number(values['se-ratio']);
const numClasses = Number(values.classes);
const threads = Number(values.threads);

async function child(size: number, batch: number): Promise<void> {
  await initEngine({ backend: engine, threads });
  const model = buildSeInceptionV3({ inputSize: size, numClasses, seRatio });
  model.compile({
    optimizer: optimizer === 'adam' ? tf.train.adam(1e-3) : tf.train.momentum(1e-2, 0.9),
    loss: 'categoricalCrossentropy',
  });
  const x = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', 1);
  const y = tf.oneHot(
    tf.tensor1d(
      [...Array(batch).keys()].map((i) => i % numClasses),
      'int32',
    ),
    numClasses,
  );
  for (let step = 0; step < Number(values.steps); step++) await model.trainOnBatch(x, y);
  // maxRSS is in kibibytes.
  process.stdout.write(
    `${JSON.stringify({ peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
  );
}

function runChild(size: number, batch: number): Promise<number> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...args, '--child', `${size}x${batch}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`child ${size}x${batch} exited ${code}`));
        return;
      }
      resolve((JSON.parse(line) as { peakRssBytes: number }).peakRssBytes);
    });
  });
}

async function main(): Promise<void> {
  if (values.child !== undefined) {
    const [size, batch] = values.child.split('x').map(Number);
    return child(size ?? 75, batch ?? 1);
  }
  const ratios: number[] = [];
  for (const size of list(values.sizes)) {
    for (const batch of list(values.batches)) {
      const measured = await runChild(size, batch);
      const estimate = estimateTrialMemory({
        inputSize: size,
        batchSize: batch,
        seRatio,
        optimizer,
        momentum: 0.9,
        numClasses,
      }).totalBytes;
      const ratio = estimate / measured;
      ratios.push(ratio);
      const mib = (b: number) => Math.round(b / 2 ** 20);
      console.log(
        JSON.stringify({
          engine,
          size,
          batch,
          optimizer,
          measuredMiB: mib(measured),
          estimateMiB: mib(estimate),
          ratio: Math.round(ratio * 100) / 100,
        }),
      );
    }
  }
  console.log(JSON.stringify({ minRatio: Math.min(...ratios), maxRatio: Math.max(...ratios) }));
}

await main();
