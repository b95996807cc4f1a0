import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type TrialState } from '@setrain/protocol';

import { taken, waitingAgain } from './trial-sync.js';

const STARTED: TrialState = {
  trialId: 'sw-test.1',
  trialNumber: 1,
  status: 'running',
  params: {},
  epochsCompleted: 1,
  objectiveValue: null,
  attempts: 0,
  startedAt: '2026-01-01T00:00:00.000Z',
  jobStalls: 0,
};
const WAITING = { stalledCounter: 0, attemptsMade: 0, failedReason: '' };

test('waitingAgain tells a stall from a give-back and a retry, and leaves unstarted trials queued', () => {
  assert.equal(waitingAgain(STARTED, { ...WAITING, stalledCounter: 1 })?.status, 'stalled');
  assert.equal(
    waitingAgain({ ...STARTED, jobStalls: 1 }, { ...WAITING, stalledCounter: 1 })?.status,
    'requeued',
  );
  const retried = waitingAgain(STARTED, { ...WAITING, attemptsMade: 1, failedReason: 'S3 down' });
  assert.deepEqual(
    [retried?.status, retried?.reason],
    ['requeued', 'attempt 1 failed (S3 down); waiting to be retried'],
  );
  const givenBack = { ...STARTED, status: 'queued' as const, reason: 'worker shutting down' };
  assert.deepEqual(waitingAgain(givenBack, WAITING), { ...givenBack, status: 'requeued' });
  const { startedAt: _never, ...unstarted } = givenBack;
  assert.equal(waitingAgain(unstarted, WAITING), undefined);
  assert.equal(waitingAgain({ ...STARTED, status: 'stalled' }, WAITING), undefined);
  assert.equal(waitingAgain({ ...STARTED, status: 'completed' }, WAITING), undefined);
});

test('a trial taken again counts the attempt in progress as the worker does; a give-back adds none', () => {
  // The worker writes attemptsMade + 1 when it starts an attempt; a stall or a give-back leaves
  // BullMQ's attemptsMade as it was, so the count a user sees must not move.
  const stalled = { ...STARTED, status: 'stalled' as const, attempts: 1 };
  const again = taken(stalled, { stalledCounter: 1, attemptsMade: 0, processedOn: 0 });
  assert.deepEqual([again?.status, again?.attempts], ['running', 1]);
  const retried = taken(
    { ...STARTED, status: 'requeued' as const, attempts: 1 },
    { stalledCounter: 0, attemptsMade: 1, processedOn: 0 },
  );
  assert.equal(retried?.attempts, 2);
});
