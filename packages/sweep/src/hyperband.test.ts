// Hyperband and BOHB against random search on Branin with a synthetic learning curve, many seeds.
// Each simulated sweep runs trials one after another (parallelism 1); every epoch the trial asks
// the scheduler, exactly as the worker does, and its epochs count against the sweep's total.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Goal, ParamSet } from '@setrain/protocol';

import { BohbSampler } from './bohb-sampler.js';
import { HyperbandScheduler } from './hyperband-scheduler.js';
import { createSampler } from './sampler.js';
import { createScheduler } from './scheduler.js';
import type { Scheduler, TrialProgress } from './scheduler-types.js';
import type { Observation, SearchSpace } from './types.js';

const MAX_EPOCHS = 27;
const SEEDS = 30;
/** Random search's budget: 30 full trials. */
const RANDOM_TRIALS = 30;
const TOTAL_EPOCHS = RANDOM_TRIALS * MAX_EPOCHS;

const SPACE: SearchSpace['parameters'] = {
  x1: { type: 'uniform', min: -5, max: 10 },
  x2: { type: 'uniform', min: 0, max: 15 },
};

function branin(p: ParamSet): number {
  const x1 = p['x1'] as number;
  const x2 = p['x2'] as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

/**
 * Branin after `epoch` epochs: the final value plus a decaying gap whose size depends on the
 * point (5 to 25 at epoch 0), so early epochs rank points only roughly and the order among good
 * points can change as training goes on. At epoch 27 the gap is below 0.03.
 */
function curve(p: ParamSet, epoch: number): number {
  const x1 = p['x1'] as number;
  const x2 = p['x2'] as number;
  const gap = 5 + 20 * ((1 + Math.sin(1.3 * x1) * Math.cos(0.7 * x2)) / 2);
  return branin(p) + gap * Math.exp(-epoch / 4);
}

interface SweepRun {
  /** Best value of a trial that trained all MAX_EPOCHS, after each trial. */
  bests: { epochsSoFar: number; best: number }[];
  trials: number;
}

/** One sweep of `strategy` under `scheduler` until `budget` epochs are spent. */
function simulate(
  search: SearchSpace,
  scheduler: Scheduler,
  seed: number,
  budget: number,
  goal: Goal = 'minimize',
): SweepRun {
  const sampler = createSampler(search, { seed, goal });
  const progress: TrialProgress[] = [];
  const history: Observation[] = [];
  const bests: SweepRun['bests'] = [];
  let spent = 0;
  let best = Infinity;
  for (let n = 1; spent < budget; n++) {
    const params = sampler.suggest({ trialNumber: n, history });
    assert.ok(params);
    const own: TrialProgress = { trialNumber: n, status: 'running', epochValues: [] };
    progress.push(own);
    const values: number[] = [];
    for (let epoch = 1; epoch <= MAX_EPOCHS && spent < budget; epoch++) {
      values.push(curve(params, epoch));
      own.epochValues = values;
      spent += 1;
      if (epoch === MAX_EPOCHS) break;
      if (scheduler.decide({ trialNumber: n, epoch, history: progress, goal }).action === 'stop') {
        break;
      }
    }
    own.status = values.length === MAX_EPOCHS ? 'completed' : 'early-stopped';
    history.push({
      trialNumber: n,
      params,
      value: Math.min(...values),
      status: own.status,
      epochs: values.length,
    });
    if (values.length === MAX_EPOCHS) best = Math.min(best, values[MAX_EPOCHS - 1] ?? Infinity);
    bests.push({ epochsSoFar: spent, best });
  }
  return { bests, trials: history.length };
}

const NEVER: Scheduler = { name: 'none', decide: () => ({ action: 'continue' }) };
const HYPERBAND = createScheduler({ type: 'hyperband', maxEpochs: MAX_EPOCHS });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Per seed: epochs the method needed to match random search's final quality (Infinity: never). */
function race(search: SearchSpace): { wins: number; ratios: number[]; trials: number[] } {
  let wins = 0;
  const ratios: number[] = [];
  const trials: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const random = simulate({ strategy: 'random', parameters: SPACE }, NEVER, seed, TOTAL_EPOCHS);
    const target = random.bests.at(-1)?.best ?? Infinity;
    const run = simulate(search, HYPERBAND, seed, TOTAL_EPOCHS);
    const reached = run.bests.find((b) => b.best <= target)?.epochsSoFar ?? Infinity;
    if (reached < TOTAL_EPOCHS) wins += 1;
    ratios.push(reached / TOTAL_EPOCHS);
    trials.push(run.trials);
  }
  return { wins, ratios, trials };
}

test('Hyperband (random configurations) reaches random search quality with fewer epochs', () => {
  const { wins, ratios, trials } = race({ strategy: 'random', parameters: SPACE });
  console.log(
    `hyperband vs random search, branin + learning curve, ${TOTAL_EPOCHS} epochs x ${SEEDS} seeds: reaches random's best with fewer epochs in ${wins}/${SEEDS}; median epochs needed ${median(ratios).toFixed(2)} of random's; median trials ${median(trials)} vs ${RANDOM_TRIALS}`,
  );
  assert.ok(wins >= SEEDS * 0.6, `wins ${wins}/${SEEDS}`);
  assert.ok(median(ratios) < 0.8, `median ratio ${median(ratios)}`);
});

/** Median over seeds of the best full-budget value after TOTAL_EPOCHS. */
function medianFinal(search: SearchSpace, scheduler: Scheduler): number {
  const finals: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    finals.push(simulate(search, scheduler, seed, TOTAL_EPOCHS).bests.at(-1)?.best ?? Infinity);
  }
  return median(finals);
}

test('BOHB reaches random search quality with fewer epochs, and ends better than Hyperband', () => {
  const bohb = race({ strategy: 'bohb', parameters: SPACE });
  const finals = {
    random: medianFinal({ strategy: 'random', parameters: SPACE }, NEVER),
    hyperband: medianFinal({ strategy: 'random', parameters: SPACE }, HYPERBAND),
    bohb: medianFinal({ strategy: 'bohb', parameters: SPACE }, HYPERBAND),
  };
  console.log(
    `bohb vs random search, branin + learning curve, ${TOTAL_EPOCHS} epochs x ${SEEDS} seeds: reaches random's best with fewer epochs in ${bohb.wins}/${SEEDS}; median epochs needed ${median(bohb.ratios).toFixed(2)} of random's; median best after ${TOTAL_EPOCHS} epochs: bohb ${finals.bohb.toFixed(3)}, hyperband ${finals.hyperband.toFixed(3)}, random ${finals.random.toFixed(3)} (optimum 0.398)`,
  );
  assert.ok(bohb.wins >= SEEDS * 0.7, `wins ${bohb.wins}/${SEEDS}`);
  assert.ok(finals.bohb < finals.hyperband && finals.hyperband < finals.random);
});

test('brackets: bracket b starts at minEpochs * eta^b; the last one never stops a trial', () => {
  const hb = createScheduler({
    type: 'hyperband',
    minEpochs: 1,
    reductionFactor: 3,
    maxEpochs: 27,
  });
  assert.ok(hb instanceof HyperbandScheduler);
  assert.deepEqual(
    hb.brackets.map((b) => b?.rungs),
    [[1, 3, 9], [3, 9], [9], undefined],
  );
  // Hyperband's share of configurations: 27 : 12 : 6 : 4 out of 49.
  const counts = [0, 0, 0, 0];
  for (let n = 1; n <= 4900; n++) counts[hb.bracketOf(n)] = (counts[hb.bracketOf(n)] ?? 0) + 1;
  const expected = [2700, 1200, 600, 400];
  counts.forEach((c, b) => {
    assert.ok(Math.abs(c - (expected[b] ?? 0)) < 120, `bracket ${b}: ${c}`);
  });
  const two = createScheduler({ type: 'hyperband', maxEpochs: 27, brackets: 2 });
  assert.ok(two instanceof HyperbandScheduler);
  assert.equal(two.brackets.length, 2);
  assert.throws(
    () => createScheduler({ type: 'hyperband', maxEpochs: 27, brackets: 5 }),
    /brackets must be an integer from 1 to 4/,
  );
});

test('a trial is judged only against trials of its own bracket, with a reason naming it', () => {
  const hb = createScheduler({ type: 'hyperband', maxEpochs: 9 });
  assert.ok(hb instanceof HyperbandScheduler);
  // Trials of bracket 0 (rungs 1 and 3) and others, found by trial number.
  const inBracket0: number[] = [];
  const elsewhere: number[] = [];
  for (let n = 1; inBracket0.length < 3 || elsewhere.length < 1; n++) {
    (hb.bracketOf(n) === 0 ? inBracket0 : elsewhere).push(n);
  }
  const [a, b, c] = inBracket0 as [number, number, number];
  const other = elsewhere[0] as number;
  const history: TrialProgress[] = [
    { trialNumber: other, status: 'running', epochValues: [0.1] },
    { trialNumber: a, status: 'running', epochValues: [0.5] },
  ];
  // The other bracket's 0.1 does not count: a is the first of bracket 0 at epoch 1.
  assert.equal(
    hb.decide({ trialNumber: a, epoch: 1, history, goal: 'minimize' }).action,
    'continue',
  );
  history.push({ trialNumber: b, status: 'running', epochValues: [0.9] });
  const stop = hb.decide({ trialNumber: b, epoch: 1, history, goal: 'minimize' });
  assert.equal(stop.action, 'stop');
  assert.equal(
    stop.reason,
    'early-stopped: hyperband bracket 0 rung 0 (epoch 1), 0.9 worse than cutoff 0.5 (top 1/3 of 1 other trials of bracket 0 at this rung)',
  );
  history.push({ trialNumber: c, status: 'running', epochValues: [0.2] });
  assert.equal(
    hb.decide({ trialNumber: c, epoch: 1, history, goal: 'minimize' }).action,
    'continue',
  );
});

test('BOHB models the largest budget with enough finished trials, random before that', () => {
  const search: SearchSpace = { strategy: 'bohb', parameters: SPACE, bohb: { randomFraction: 0 } };
  const sampler = createSampler(search, { seed: 5, goal: 'minimize' });
  assert.ok(sampler instanceof BohbSampler);
  assert.equal(sampler.minPointsInModel, 6);
  const random = createSampler(
    { strategy: 'random', parameters: SPACE },
    { seed: 5, goal: 'minimize' },
  );
  const obs = (n: number, epochs: number): Observation => ({
    trialNumber: n,
    params: { x1: n, x2: n },
    value: n,
    status: epochs === MAX_EPOCHS ? 'completed' : 'early-stopped',
    epochs,
  });
  // 5 finished trials: too few for any budget, so trial 6 is random search's trial 6.
  const few = [1, 2, 3, 4, 5].map((n) => obs(n, 1));
  assert.equal(sampler.modelHistory(few), undefined);
  assert.deepEqual(
    sampler.suggest({ trialNumber: 6, history: few }),
    random.suggest({ trialNumber: 6, history: [] }),
  );
  // 8 at budget >= 1, 6 at >= 3, 2 at 9: the model uses budget 3 (6 trials) plus the running one.
  const many = [
    obs(1, 1),
    obs(2, 1),
    obs(3, 3),
    obs(4, 3),
    obs(5, 3),
    obs(6, 3),
    obs(7, 9),
    obs(8, 9),
  ];
  many.push({ trialNumber: 9, params: { x1: 0, x2: 0 }, value: null, status: 'running' });
  assert.deepEqual(
    sampler.modelHistory(many)?.map((o) => o.trialNumber),
    [3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(
    sampler.suggest({ trialNumber: 10, history: many }),
    random.suggest({ trialNumber: 10, history: [] }),
  );
});
