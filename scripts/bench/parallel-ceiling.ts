// What the machine's cores give together, independent of how one process uses them: the native
// engine's one-thread training step alone, against two of the same processes at once (nothing
// shared but the machine), interleaved, --repeat times. The ratio (both together / alone, median
// img/s of the same run) bounds what any way of using two cores for training can reach here, two
// threads in one process or data parallelism across two engines alike.
//
//   node --conditions=source --import tsx scripts/bench/parallel-ceiling.ts [--repeat 5]
//        [--size 75] [--steps 12]
//
// Prints one JSON line per round and a summary line.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { intOption } from './options.js';
import { median, round } from './stats.js';

const benchEngineScript = fileURLToPath(new URL('../bench-engine.ts', import.meta.url));
const RESULT_PREFIX = 'BENCH_RESULT ';

/** One one-thread native training run (bench-engine's child); its median-step img/s. */
function trainOneThread(size: number, steps: number): Promise<number> {
  const args = [
    ...process.execArgv,
    benchEngineScript,
    ...['--child', 'native', '--threads', '1', '--size', String(size)],
    ...['--batch', '8', '--steps', String(steps), '--warmup', '2', '--classes', '10'],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`the native benchmark exited with ${String(code)} and no result`));
        return;
      }
      const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as { imgPerSec?: number };
      resolve(Number(result.imgPerSec));
    });
  });
}

const { values } = parseArgs({
  options: {
    repeat: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
  },
  strict: true,
});
const repeat = intOption('repeat', values.repeat, 5, 1);
const size = intOption('size', values.size, 75, 75);
const steps = intOption('steps', values.steps, 12, 3);

const alone: number[] = [];
const together: number[] = [];
for (let i = 0; i < repeat; i++) {
  // Alternate which goes first, so a slow phase of the host hits both alike.
  const runAlone = async () => {
    alone.push(await trainOneThread(size, steps));
  };
  const runPair = async () => {
    const pair = await Promise.all([trainOneThread(size, steps), trainOneThread(size, steps)]);
    together.push(pair[0] + pair[1]);
    return pair;
  };
  let pair: number[];
  if (i % 2 === 0) {
    await runAlone();
    pair = await runPair();
  } else {
    pair = await runPair();
    await runAlone();
  }
  console.log(
    JSON.stringify({
      round: i,
      size,
      aloneImgPerSec: alone.at(-1),
      pairImgPerSec: pair.map((r) => round(r, 2)),
      togetherImgPerSec: round(together.at(-1) ?? 0, 2),
    }),
  );
}
console.log(
  JSON.stringify({
    benchmark: 'parallel-ceiling',
    size,
    repeat,
    aloneMedianImgPerSec: round(median(alone), 2),
    togetherMedianImgPerSec: round(median(together), 2),
    ceiling: round(median(together) / median(alone), 3),
  }),
);
