import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createScheduler } from './scheduler.js';
import type { TrialProgress } from './scheduler-types.js';

const median = createScheduler({ type: 'median', minEpochs: 2, minTrials: 3 });

// val_loss per epoch (minimize).
const others: TrialProgress[] = [
  { trialNumber: 1, status: 'completed', epochValues: [1.0, 0.8, 0.6, 0.5] },
  { trialNumber: 2, status: 'completed', epochValues: [0.9, 0.7, 0.5, 0.4] },
  { trialNumber: 3, status: 'early-stopped', epochValues: [1.2, 1.0, 0.9, 0.8] },
  { trialNumber: 4, status: 'running', epochValues: [1.1, 0.9] },
  { trialNumber: 6, status: 'failed', epochValues: [0.1, 0.1, 0.1, 0.1] },
];

test('median rule by hand: best so far against the median of running averages', () => {
  const history = [
    ...others,
    { trialNumber: 5, status: 'running' as const, epochValues: [1.3, 1.1] },
  ];
  // Grace period: epoch 1 < minEpochs.
  assert.equal(
    median.decide({ trialNumber: 5, epoch: 1, history, goal: 'minimize' }).action,
    'continue',
  );
  // Epoch 2: running averages 0.9 (t1), 0.8 (t2), 1.1 (t3), 1.0 (t4); failed t6 ignored.
  // Median 0.95; trial 5's best is 1.1 -> stop.
  assert.deepEqual(median.decide({ trialNumber: 5, epoch: 2, history, goal: 'minimize' }), {
    action: 'stop',
    reason: 'early-stopped: median rule at epoch 2, best 1.1 worse than median 0.95 of 4 trials',
  });
});

test('the running average, not the last value, is the yardstick', () => {
  const history = [
    ...others,
    { trialNumber: 5, status: 'running' as const, epochValues: [1.0, 0.9, 0.75, 0.7] },
  ];
  // Epoch 4: averages 0.725 (t1), 0.625 (t2), 0.975 (t3); t4 has not reached epoch 4.
  // Median 0.725; best 0.7 is better although t1 and t2 end lower -> continue.
  assert.equal(
    median.decide({ trialNumber: 5, epoch: 4, history, goal: 'minimize' }).action,
    'continue',
  );
  const worse = [
    ...others,
    { trialNumber: 5, status: 'running' as const, epochValues: [1.0, 0.9, 0.8, 0.76] },
  ];
  assert.match(
    median.decide({ trialNumber: 5, epoch: 4, history: worse, goal: 'minimize' }).reason ?? '',
    /median rule at epoch 4, best 0\.76 worse than median 0\.725 of 3 trials/,
  );
});

test('nothing is decided before minTrials other trials reached the epoch', () => {
  const strict = createScheduler({ type: 'median', minEpochs: 1, minTrials: 4 });
  const history = [
    ...others,
    { trialNumber: 5, status: 'running' as const, epochValues: [9, 9, 9] },
  ];
  // Epoch 3: only t1, t2, t3 reached it.
  assert.equal(
    strict.decide({ trialNumber: 5, epoch: 3, history, goal: 'minimize' }).action,
    'continue',
  );
  // Epoch 2: t1..t4 did.
  assert.equal(
    strict.decide({ trialNumber: 5, epoch: 2, history, goal: 'minimize' }).action,
    'stop',
  );
});

test('maximize compares the other way round; ties continue', () => {
  const acc: TrialProgress[] = [
    { trialNumber: 1, status: 'completed', epochValues: [0.5, 0.6] },
    { trialNumber: 2, status: 'completed', epochValues: [0.3, 0.5] },
    { trialNumber: 3, status: 'completed', epochValues: [0.7, 0.7] },
  ];
  const decide = (values: number[]) =>
    median.decide({
      trialNumber: 4,
      epoch: 2,
      history: [...acc, { trialNumber: 4, status: 'running', epochValues: values }],
      goal: 'maximize',
    });
  // averages 0.55, 0.4, 0.7 -> median 0.55.
  assert.equal(decide([0.2, 0.5]).action, 'stop');
  assert.equal(decide([0.2, 0.55]).action, 'continue');
  assert.equal(decide([0.6, 0.1]).action, 'continue');
});
