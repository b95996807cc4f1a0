/**
 * Every benchmark still runs: each `npm run bench:*` script at its smallest size, its JSON parsed
 * and checked for the numbers the README quotes (a result, its same-run baseline, no errors). The
 * numbers themselves are not judged (a loaded CI machine says nothing about speed); this catches a
 * benchmark broken by a change elsewhere, as bench:data once was by the dataset bucket allow-list
 * (its real trial failed DATA_BUCKET_NOT_ALLOWED and nothing noticed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The slowest (bench:split, two short sweeps of real training) takes about 40 s here. */
const TIMEOUT_MS = 240_000;

type Json = Record<string, unknown>;

/** Runs a package script and returns its stdout; fails with its stderr's tail when it fails. */
async function bench(script: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('npm', ['run', '-s', script, '--', ...args], {
      cwd: ROOT,
      timeout: TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    assert.fail(
      `npm run ${script} ${args.join(' ')} failed: ${String(error)}\n${stderr.slice(-2000)}`,
    );
  }
}

/** The JSON objects a benchmark printed: one pretty-printed object, or one per line. */
function jsonObjects(stdout: string): Json[] {
  try {
    return [JSON.parse(stdout) as Json];
  } catch {
    return stdout
      .split('\n')
      .map((line) => line.replace(/^BENCH_RESULT /, '').trim())
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Json);
  }
}

/** The value at a dotted path, checked to be a finite number above `min`. */
function positive(object: Json, path: string, min = 0): number {
  let value: unknown = object;
  for (const part of path.split('.')) value = (value as Json | undefined)?.[part];
  assert.ok(
    typeof value === 'number' && Number.isFinite(value) && value > min,
    `${path} is ${JSON.stringify(value)}, expected a number above ${min}`,
  );
  return value;
}

test('bench:data measures the pipeline against sharp and the download floor, and a real trial', async () => {
  const [result] = jsonObjects(
    await bench('bench:data', ['--images', '8', '--repeat', '1', '--epochs', '1']),
  );
  assert.ok(result);
  for (const path of [
    'baselineSharpImgPerSec',
    'downloadOnlyImgPerSec',
    'coldImgPerSec',
    'warmEpochImgPerSec',
    'warmTrialImgPerSec',
    'coldVsBaseline',
    'coldCpuVsFloor',
    'cpuMsPerImage.cold.node',
    'cpuMsPerImage.downloadOnly.s3rver',
    'dataWait.steps',
    'dataWait.medianStepMs',
  ]) {
    positive(result, path);
  }
});

test('bench:queue runs a noop sweep and raw BullMQ on the same Redis, and splits their commands by connection', async () => {
  const [result] = jsonObjects(
    await bench('bench:queue', ['--trials', '20', '--workers', '2', '--trace-commands']),
  );
  assert.ok(result);
  assert.equal(positive(result, 'setrain.trials'), 20);
  assert.equal(positive(result, 'baseline.trials'), 20);
  positive(result, 'setrain.trialsPerSec');
  positive(result, 'baseline.trialsPerSec');
  positive(result, 'throughputVsBaseline');
  positive(result, 'setrain.nodeCpuMsPerTrial');
  // Each side's trials took one job add, a worker's fetch and finish, and their events.
  for (const side of ['baseline', 'setrain']) {
    for (const role of ['job producer (controller)', 'BullMQ worker', 'queue events']) {
      positive(result, `${side}.commandsByConnectionRole.${role}.sentPerTrial`, 0.5);
    }
  }
  // Only setrain's workers write trial state beside BullMQ.
  positive(
    result,
    'setrain.commandsByConnectionRole.other (setrain worker: trial state, stops, heartbeats).sentPerTrial',
    1,
  );
});

test('bench:api loads the API and a Fastify hello-world, all answers 2xx', async () => {
  const [result] = jsonObjects(
    await bench('bench:api', [
      '--connections',
      '10',
      '--duration-s',
      '1',
      '--trials',
      '20',
      '--workers',
      '2',
    ]),
  );
  assert.ok(result);
  for (const side of ['baselineHelloWorld', 'statusReads', 'sweepReads']) {
    positive(result, `${side}.requestsPerSec`);
    assert.deepEqual(
      [(result[side] as Json).non2xx, (result[side] as Json).errors],
      [0, 0],
      `${side} had failed requests`,
    );
  }
  positive(result, 'statusReadsVsBaseline');
});

test('bench:engine trains native steps and reports its kernel queue', async () => {
  // One engine's child run (what bench:engine spawns per engine and repeat): the PyTorch
  // comparison after it needs torch, which CI does not install.
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'scripts/bench-engine.ts',
      '--child',
      'native',
      '--size',
      '75',
      '--steps',
      '2',
      '--warmup',
      '0',
      '--threads',
      '1',
    ],
    { cwd: ROOT, timeout: TIMEOUT_MS },
  );
  const [result] = jsonObjects(stdout);
  assert.ok(result);
  positive(result, 'imgPerSec');
  positive(result, 'kernelMsPerStep');
  assert.equal(result.numTensorsAfter, 0, 'no tensor leaked');
});

test('bench:memory, bench:ceiling and bench:split run at their smallest sizes', async () => {
  const memory = jsonObjects(
    await bench('bench:memory', ['--sizes', '75', '--batches', '2', '--steps', '1']),
  );
  positive(memory[0] ?? {}, 'measuredMiB');
  positive(memory[0] ?? {}, 'estimateMiB');
  const ceiling = jsonObjects(await bench('bench:ceiling', ['--repeat', '1', '--steps', '12']));
  positive(ceiling.at(-1) ?? {}, 'ceiling');
  const [split] = jsonObjects(
    await bench('bench:split', [
      '--splits',
      '2x1',
      '--trials',
      '2',
      '--epochs',
      '2',
      '--images',
      '16',
      '--repeat',
      '1',
    ]),
  );
  assert.ok(split);
  const results = split.results as Json[];
  assert.equal(results.length, 1);
  positive(results[0] ?? {}, 'machineImgPerSec');
  // In-epoch img/s counts epochs after the first: with two, each trial has one.
  positive(((results[0]?.runs as Json[] | undefined) ?? [])[0] ?? {}, 'trialImgPerSec');
});
