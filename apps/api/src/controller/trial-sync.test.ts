import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type TrialState } from '@setrain/protocol';

import { waitingAgain } from './trial-sync.js';

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
