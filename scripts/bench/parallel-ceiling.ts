// What the machine's cores give together, independent of how one process uses them: the native
// engine's one-thread training step alone, against two of the same processes at once (nothing
// shared but the machine), interleaved, --repeat times. The ratio (both together / alone, median
// img/s of the same run; the pair counted only while both train) bounds what any way of using two
// cores for training can reach here, two threads in one process or data parallelism alike.
//
//   node --conditions=source --import tsx scripts/bench/parallel-ceiling.ts [--repeat 5]
//        [--size 75] [--steps 20]
//
// Rates on both sides are images over a span of whole timed steps (the pair's: only steps while
// both ran). Prints one JSON line per round and a summary line.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { runForStdout, threadEnv } from './child-run.js';
import { intOption } from './options.js';
import { median, round } from './stats.js';

const benchEngineScript = fileURLToPath(new URL('../bench-engine.ts', import.meta.url));
const RESULT_PREFIX = 'BENCH_RESULT ';
const BATCH = 8;

/** A one-thread native training run: its median-step img/s and when each timed step ended. */
interface TrainingRun {
  imgPerSec: number;
  batch: number;
  /** Epoch ms at which each timed step ended, in order. */
  stepEnds: number[];
  timedStart: number;
}

async function trainOneThread(size: number, steps: number): Promise<TrainingRun> {
  const args = [
    ...process.execArgv,
    benchEngineScript,
    ...['--child', 'native', '--threads', '1', '--size', String(size)],
    ...['--batch', String(BATCH), '--steps', String(steps), '--warmup', '2', '--classes', '10'],
  ];
  const stdout = await runForStdout(process.execPath, args, threadEnv(1));
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) throw new Error('the native benchmark printed no result');
  const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as {
    imgPerSec: number;
    stepMs: number[];
    timedStartEpochMs: number;
  };
  const stepEnds: number[] = [];
  let at = result.timedStartEpochMs;
  for (const ms of result.stepMs) stepEnds.push((at += ms));
  return {
    imgPerSec: result.imgPerSec,
    batch: BATCH,
    stepEnds,
    timedStart: result.timedStartEpochMs,
  };
}

/** Images over the time of the whole timed steps that began at or after `from` and ended by
 * `to`: the mean rate over a span of whole steps, the statistic both sides use. */
function spanRate(run: TrainingRun, from: number, to: number): number {
  const starts = [run.timedStart, ...run.stepEnds.slice(0, -1)];
  const inside = run.stepEnds
    .map((end, i) => ({ start: starts[i] ?? 0, end }))
    .filter((step) => step.start >= from && step.end <= to);
  const first = inside[0];
  const last = inside.at(-1);
  if (first === undefined || last === undefined || inside.length < 3) {
    throw new Error('fewer than 3 whole steps in the window; raise --steps');
  }
  return (inside.length * run.batch * 1000) / (last.end - first.start);
}

/** Img/s of two concurrent runs, each counted only over its steps while both were training (a
 * run that started or finished alone had a core to itself then), summed. */
function overlapRate(a: TrainingRun, b: TrainingRun): { imgPerSec: number; overlapS: number } {
  const from = Math.max(a.timedStart, b.timedStart);
  const to = Math.min(a.stepEnds.at(-1) ?? 0, b.stepEnds.at(-1) ?? 0);
  return { imgPerSec: spanRate(a, from, to) + spanRate(b, from, to), overlapS: (to - from) / 1000 };
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
const steps = intOption('steps', values.steps, 20, 3);

const alone: number[] = [];
const together: number[] = [];
for (let i = 0; i < repeat; i++) {
  // Alternate which goes first, so a slow phase of the host hits both alike.
  const runAlone = async () => {
    const run = await trainOneThread(size, steps);
    return spanRate(run, run.timedStart, run.stepEnds.at(-1) ?? 0);
  };
  const runPair = () => Promise.all([trainOneThread(size, steps), trainOneThread(size, steps)]);
  let aloneRate: number;
  let pair: TrainingRun[];
  if (i % 2 === 0) {
    aloneRate = await runAlone();
    pair = await runPair();
  } else {
    pair = await runPair();
    aloneRate = await runAlone();
  }
  const [a, b] = pair as [TrainingRun, TrainingRun];
  const overlap = overlapRate(a, b);
  alone.push(aloneRate);
  together.push(overlap.imgPerSec);
  console.log(
    JSON.stringify({
      round: i,
      size,
      aloneImgPerSec: round(aloneRate, 2),
      pairMedianStepImgPerSec: [round(a.imgPerSec, 2), round(b.imgPerSec, 2)],
      togetherImgPerSec: round(overlap.imgPerSec, 2),
      overlapS: round(overlap.overlapS, 1),
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
