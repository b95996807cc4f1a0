import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SweepError } from './errors.js';
import { createScheduler } from './scheduler.js';
import type { TrialProgress } from './scheduler-types.js';

const asha = createScheduler({ type: 'asha', minEpochs: 1, reductionFactor: 3, maxEpochs: 9 });

function t(
  trialNumber: number,
  epochValues: number[],
  status: TrialProgress['status'] = 'running',
) {
  return { trialNumber, status, epochValues };
}

test('rungs sit at minEpochs * eta^k below maxEpochs', () => {
  const s = createScheduler({ type: 'asha', minEpochs: 2, reductionFactor: 2, maxEpochs: 20 });
  assert.ok('rungs' in s);
  assert.deepEqual(s.rungs, [2, 4, 8, 16]);
  const d = createScheduler({ type: 'asha', maxEpochs: 27 });
  assert.ok('rungs' in d);
  assert.deepEqual(d.rungs, [1, 3, 9]);
});

test('rung 0 by hand (maximize, eta = 3): keep the top third of what the rung has seen', () => {
  // Trials reach epoch 1 in the order 1..5 with these accuracies.
  const arrivals = [0.5, 0.4, 0.6, 0.45, 0.55];
  const history: TrialProgress[] = [];
  const decisions: string[] = [];
  arrivals.forEach((value, i) => {
    history.push(t(i + 1, [value]));
    const d = asha.decide({ trialNumber: i + 1, epoch: 1, history, goal: 'maximize' });
    decisions.push(d.action);
    if (i === 1) {
      assert.equal(
        d.reason,
        'early-stopped: asha rung 0 (epoch 1), 0.4 worse than cutoff 0.5 (top 1/3 of 1 other trials at this rung)',
      );
    }
    if (i === 3) {
      // others 0.4, 0.5, 0.6: 2/3 quantile = 0.5 + (1/3) * 0.1 = 0.533
      assert.match(d.reason ?? '', /0\.45 worse than cutoff 0\.533 \(top 1\/3 of 3 other/);
    }
  });
  // 1: first at the rung; 2: 0.4 < 0.5; 3: 0.6 >= q(2/3) of [0.4, 0.5] = 0.467;
  // 4: 0.45 < 0.533; 5: 0.55 >= q(2/3) of [0.4, 0.45, 0.5, 0.6] = 0.5.
  assert.deepEqual(decisions, ['continue', 'stop', 'continue', 'stop', 'continue']);
});

test('rung 1 by hand: values recorded at epoch 3 only, stragglers not awaited', () => {
  const history: TrialProgress[] = [
    t(1, [0.5, 0.52, 0.58]),
    t(2, [0.4], 'early-stopped'),
    t(3, [0.6, 0.62, 0.64]),
    t(5, [0.55, 0.56, 0.57]),
    t(6, [0.7, 0.71]), // not yet at rung 1: ignored there
  ];
  // Between rungs nothing is decided.
  assert.equal(
    asha.decide({ trialNumber: 5, epoch: 2, history, goal: 'maximize' }).action,
    'continue',
  );
  // Trial 5 at epoch 3 against trials 1 and 3: 2/3 quantile of [0.58, 0.64] = 0.62.
  const d = asha.decide({ trialNumber: 5, epoch: 3, history, goal: 'maximize' });
  assert.equal(d.action, 'stop');
  assert.equal(
    d.reason,
    'early-stopped: asha rung 1 (epoch 3), 0.57 worse than cutoff 0.62 (top 1/3 of 2 other trials at this rung)',
  );
  // Trial 3 against 1 and 5: q(2/3) of [0.57, 0.58] = 0.577; 0.64 goes on.
  assert.equal(
    asha.decide({ trialNumber: 3, epoch: 3, history, goal: 'maximize' }).action,
    'continue',
  );
  // maxEpochs itself is no rung: the trial just finishes.
  assert.equal(
    asha.decide({ trialNumber: 3, epoch: 9, history, goal: 'maximize' }).action,
    'continue',
  );
});

test('minimize mirrors the cutoff to the 1/eta quantile', () => {
  const history = [t(1, [0.5]), t(2, [0.3]), t(3, [0.9]), t(4, [0.4])];
  // others of 4: [0.3, 0.5, 0.9]; 1/3 quantile = 0.3 + (2/3) * 0.2 = 0.433; 0.4 goes on.
  assert.equal(
    asha.decide({ trialNumber: 4, epoch: 1, history, goal: 'minimize' }).action,
    'continue',
  );
  // others of 1: [0.3, 0.9, 0.4]; 1/3 quantile = 0.3 + (2/3) * 0.1 = 0.367; 0.5 stops.
  const d = asha.decide({ trialNumber: 1, epoch: 1, history, goal: 'minimize' });
  assert.equal(d.action, 'stop');
  assert.match(d.reason ?? '', /0\.5 worse than cutoff 0\.367/);
});

test('a non-finite value at a rung stops the trial once others have recorded values', () => {
  const history = [t(1, [0.5]), t(2, [Number.NaN])];
  assert.equal(asha.decide({ trialNumber: 2, epoch: 1, history, goal: 'minimize' }).action, 'stop');
});

test('about 1/eta of a long stream of iid trials passes rung 0', () => {
  // Deterministic pseudo-random arrivals: the fraction passing tends to 1/3 (early trials pass
  // more easily because the rung has seen little).
  const history: TrialProgress[] = [];
  let passed = 0;
  let x = 0.5;
  for (let n = 1; n <= 300; n++) {
    x = (x * 9301 + 49297) % 233280;
    history.push(t(n, [x / 233280]));
    if (
      asha.decide({ trialNumber: n, epoch: 1, history, goal: 'maximize' }).action === 'continue'
    ) {
      passed++;
    }
  }
  assert.ok(passed / 300 > 0.3 && passed / 300 < 0.4, `passed ${passed}/300`);
});

test('invalid options are SweepErrors that name the option', () => {
  assert.throws(
    () => createScheduler({ type: 'asha', maxEpochs: 1 }),
    (e: unknown) => e instanceof SweepError && /maxEpochs/.test(e.message),
  );
  assert.throws(
    () => createScheduler({ type: 'asha', maxEpochs: 9, reductionFactor: 1 }),
    (e: unknown) =>
      e instanceof SweepError && /reductionFactor must be an integer >= 2/.test(e.message),
  );
});

test('no earlyStopping section: trials always continue', () => {
  const none = createScheduler(undefined);
  assert.equal(none.name, 'none');
  assert.deepEqual(none.decide({ trialNumber: 1, epoch: 1, history: [], goal: 'minimize' }), {
    action: 'continue',
  });
});
