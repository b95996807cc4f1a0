import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Distribution, ParamSet } from '@setrain/protocol';

import { SweepError } from './errors.js';
import { PbtScheduler, type PbtMember } from './pbt.js';
import { Prng } from './prng.js';
import { sampleIndependent } from './random-sampler.js';

const space: Record<string, Distribution> = {
  learningRate: { type: 'log_uniform', min: 1e-4, max: 1 },
  preprocessing: { type: 'values', values: ['inception', 'unit'] },
  batchSize: { type: 'int_uniform', min: 8, max: 64, step: 8 },
  dropout: { type: 'constant', value: 0.2 },
};

function member(trialNumber: number, value: number | null, epoch = 2): PbtMember {
  return {
    trialNumber,
    epoch,
    value,
    params: { learningRate: 0.01 * trialNumber, preprocessing: 'unit', batchSize: 16 },
  };
}

const pbt = (options: Partial<ConstructorParameters<typeof PbtScheduler>[1]> = {}) =>
  new PbtScheduler(
    space,
    { populationSize: 4, perturbationInterval: 2, ...options },
    7,
    'maximize',
  );

test('quantiles: bottom and top quarter, at least one each, never more than half', () => {
  const population = [member(1, 0.5), member(2, 0.9), member(3, 0.1), member(4, 0.7)];
  const { lower, upper } = pbt().quantiles(population);
  assert.deepEqual(
    lower.map((m) => m.trialNumber),
    [3],
  );
  assert.deepEqual(
    upper.map((m) => m.trialNumber),
    [2],
  );
  const half = pbt({ quantileFraction: 0.5 }).quantiles([...population, member(5, 0.3)]);
  assert.deepEqual(
    half.lower.map((m) => m.trialNumber),
    [3, 5],
  );
  assert.deepEqual(
    half.upper.map((m) => m.trialNumber),
    [4, 2],
  );
  // Members without a value are not ranked; one ranked member has nobody to compare with.
  assert.deepEqual(pbt().quantiles([member(1, 0.5), member(2, null)]), { lower: [], upper: [] });
});

test('minimize ranks low values on top', () => {
  const s = new PbtScheduler(space, { populationSize: 2, perturbationInterval: 1 }, 7, 'minimize');
  const { lower, upper } = s.quantiles([member(1, 0.2), member(2, 0.9)]);
  assert.equal(lower[0]?.trialNumber, 2);
  assert.equal(upper[0]?.trialNumber, 1);
});

test('a bottom member exploits a top member; the others continue', () => {
  const population = [member(1, 0.5), member(2, 0.9), member(3, 0.1), member(4, 0.7)];
  const s = pbt();
  for (const m of [population[0], population[1], population[3]]) {
    assert.equal(s.decide(m as PbtMember, population).action, 'continue');
  }
  const d = s.decide(population[2] as PbtMember, population);
  assert.equal(d.action, 'exploit');
  assert.ok(d.action === 'exploit');
  assert.equal(d.donor, 2);
  assert.equal(d.donorEpoch, 2);
  assert.deepEqual(d.paramsBefore, population[2]?.params);
  assert.match(d.reason, /pbt epoch 2: 0\.1 in the bottom 0\.25; exploits trial 2 \(0\.9/);
  // Deterministic: the same question gets the same answer (a restarted controller repeats it).
  assert.deepEqual(s.decide(population[2] as PbtMember, population), d);
  // Too few ranked members: continue.
  assert.equal(s.decide(member(1, 0.1), [member(1, 0.1), member(2, null)]).action, 'continue');
});

test('a bottom member never exploits a top member behind it (no going back in epochs)', () => {
  const s = new PbtScheduler(space, { populationSize: 2, perturbationInterval: 1 }, 7, 'minimize');
  // Trial 2 at epoch 2 is worse than trial 1's epoch 1: copying it would take trial 2 back to
  // epoch 1, and trial 1 (at epoch 2 next, worse again) would copy trial 2's epoch 1: a livelock.
  const behind = member(1, 7.6, 1);
  const ahead = member(2, 10.7, 2);
  assert.equal(s.decide(ahead, [behind, ahead]).action, 'continue');
  // A donor at the same epoch or further is copied as before.
  for (const epoch of [2, 3]) {
    const d = s.decide(ahead, [member(1, 7.6, epoch), ahead]);
    assert.ok(d.action === 'exploit' && d.donor === 1 && d.donorEpoch === epoch);
  }
});

test('explore: perturbs by 0.8/1.2 within bounds, shifts lists, resamples with its probability', () => {
  const never = pbt({ resampleProbability: 0 });
  const donor: ParamSet = { learningRate: 0.9, preprocessing: 'inception', batchSize: 64 };
  const seen = { lr: new Set<number>(), pre: new Set<string>(), batch: new Set<number>() };
  for (let i = 0; i < 200; i++) {
    const next = never.explore(donor, new Prng(i));
    seen.lr.add(next.learningRate as number);
    seen.pre.add(next.preprocessing as string);
    seen.batch.add(next.batchSize as number);
    assert.equal(next.dropout, undefined, 'constant parameters are not touched');
  }
  // 0.9 * 1.2 = 1.08 is clipped to the distribution's max of 1; 0.9 * 0.8 = 0.72.
  assert.deepEqual(
    [...seen.lr].sort((a, b) => a - b),
    [0.9 * 0.8, 1],
  );
  // A list shifts to a neighbour (clamped at the ends): inception -> inception or unit.
  assert.deepEqual([...seen.pre].sort(), ['inception', 'unit']);
  // 64 * 0.8 = 51.2 -> 48 (step 8); 64 * 1.2 -> clipped to 64.
  assert.deepEqual(
    [...seen.batch].sort((a, b) => a - b),
    [48, 64],
  );
  const always = pbt({ resampleProbability: 1 });
  const lrs = new Set<number>();
  for (let i = 0; i < 50; i++) lrs.add(always.explore(donor, new Prng(i)).learningRate as number);
  assert.ok(lrs.size > 40, 'resampling draws fresh values from the distribution');
  for (const lr of lrs) assert.ok(lr >= 1e-4 && lr <= 1);
});

test('nextStop: the next multiple of the interval, capped at the budget', () => {
  const s = pbt({ perturbationInterval: 3 });
  assert.equal(s.nextStop(0, 10), 3);
  assert.equal(s.nextStop(3, 10), 6);
  assert.equal(s.nextStop(4, 10), 6);
  assert.equal(s.nextStop(9, 10), 10);
});

test('bad options are one SweepError naming each', () => {
  assert.throws(
    () =>
      new PbtScheduler(
        space,
        {
          populationSize: 1,
          perturbationInterval: 0,
          quantileFraction: 0.8,
          perturbationFactors: [],
        },
        0,
        'minimize',
      ),
    (e: unknown) =>
      e instanceof SweepError &&
      e.code === 'INVALID_OPTIONS' &&
      /populationSize/.test(e.message) &&
      /perturbationInterval/.test(e.message) &&
      /quantileFraction/.test(e.message) &&
      /perturbationFactors/.test(e.message),
  );
});

// A toy training run whose best learning rate moves during training: each epoch adds
// exp(-(log10(lr) - opt(t))^2 / 2w^2) to the model's quality, where the optimum opt(t) falls from
// 1e-1 to 1e-3 over the run (a large rate helps early, a small one late). The reported objective
// is the quality plus validation noise; the winner is judged on the noise-free quality.
const EPOCHS = 20;
const POPULATION = 8;
const INTERVAL = 2;
const WIDTH = 0.5;
const NOISE = 0.1;
const lrSpace: Record<string, Distribution> = {
  learningRate: { type: 'log_uniform', min: 1e-4, max: 1 },
};

function gain(lr: number, epoch: number): number {
  const optimum = -1 - (2 * (epoch - 1)) / (EPOCHS - 1);
  return Math.exp(-((Math.log10(lr) - optimum) ** 2) / (2 * WIDTH ** 2));
}

interface ToyTrial {
  params: ParamSet;
  quality: number;
  value: number;
}

function initialPopulation(seed: number): ToyTrial[] {
  return Array.from({ length: POPULATION }, (_, i) => ({
    params: sampleIndependent({ parameters: lrSpace }, seed, i + 1),
    quality: 0,
    value: 0,
  }));
}

function trainEpoch(trial: ToyTrial, epoch: number, noise: Prng): void {
  trial.quality += gain(trial.params.learningRate as number, epoch);
  trial.value = trial.quality + NOISE * noise.nextNormal();
}

/** Random search: the same POPULATION sampled trials, each at its fixed rate for EPOCHS epochs. */
function randomSearch(seed: number): { best: number; epochs: number } {
  const noise = Prng.forStream(seed, 'noise');
  const trials = initialPopulation(seed);
  for (const trial of trials) for (let e = 1; e <= EPOCHS; e++) trainEpoch(trial, e, noise);
  return { best: Math.max(...trials.map((t) => t.quality)), epochs: POPULATION * EPOCHS };
}

/** PBT over the same initial population: members step an epoch in turn and decide at each stop. */
function populationBasedTraining(seed: number): { best: number; epochs: number; exploits: number } {
  const noise = Prng.forStream(seed, 'noise');
  const scheduler = new PbtScheduler(
    lrSpace,
    { populationSize: POPULATION, perturbationInterval: INTERVAL },
    seed,
    'maximize',
  );
  const trials = initialPopulation(seed);
  let epochs = 0;
  let exploits = 0;
  for (let e = 1; e <= EPOCHS; e++) {
    for (const trial of trials) {
      trainEpoch(trial, e, noise);
      epochs += 1;
    }
    if (e % INTERVAL !== 0 || e === EPOCHS) continue;
    const population = (): PbtMember[] =>
      trials.map((t, i) => ({ trialNumber: i + 1, epoch: e, value: t.value, params: t.params }));
    trials.forEach((trial, i) => {
      const decision = scheduler.decide(population()[i] as PbtMember, population());
      if (decision.action !== 'exploit') return;
      const donor = trials[decision.donor - 1] as ToyTrial;
      exploits += 1;
      trial.quality = donor.quality;
      trial.value = donor.value;
      trial.params = decision.paramsAfter;
    });
  }
  return { best: Math.max(...trials.map((t) => t.quality)), epochs, exploits };
}

test('toy problem: PBT beats fixed-rate random search at the same total epochs', (t) => {
  const SEEDS = 200;
  let wins = 0;
  let exploits = 0;
  let pbtSum = 0;
  let randomSum = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const random = randomSearch(seed);
    const pbtRun = populationBasedTraining(seed);
    assert.equal(pbtRun.epochs, random.epochs, 'same total epochs');
    if (pbtRun.best > random.best) wins += 1;
    exploits += pbtRun.exploits;
    pbtSum += pbtRun.best;
    randomSum += random.best;
  }
  const rate = wins / SEEDS;
  t.diagnostic(
    `PBT win rate ${(rate * 100).toFixed(1)}% over ${SEEDS} seeds; mean best quality PBT ${(pbtSum / SEEDS).toFixed(2)} vs random ${(randomSum / SEEDS).toFixed(2)} (max ${EPOCHS}); ${(exploits / SEEDS).toFixed(1)} exploits per run`,
  );
  assert.ok(rate >= 0.9, `PBT won only ${wins} of ${SEEDS}`);
});
