import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import { type SweepRecord } from '../sweep-record.js';
import { eventsOf } from './webhook-notifier.js';
import { signWebhook } from './webhook-signature.js';

const record = (patch: Partial<SweepRecord>): SweepRecord =>
  ({ id: 'sw-abc', status: 'running', best: null, version: 1, ...patch }) as SweepRecord;
const best = (trialId: string, objectiveValue: number) => ({ trialId, params: {}, objectiveValue });

test('events: a status change, a new best trial or value; nothing else', () => {
  assert.deepEqual(eventsOf(undefined, record({})), ['sweep.status']);
  assert.deepEqual(eventsOf(record({}), record({ status: 'paused' })), ['sweep.status']);
  assert.deepEqual(eventsOf(record({}), record({ version: 2 })), []);
  assert.deepEqual(eventsOf(record({}), record({ best: best('sw-abc.1', 0.5) })), ['sweep.best']);
  const b = record({ best: best('sw-abc.1', 0.5) });
  assert.deepEqual(eventsOf(b, record({ best: best('sw-abc.1', 0.5) })), []);
  assert.deepEqual(eventsOf(b, record({ best: best('sw-abc.2', 0.4) })), ['sweep.best']);
  assert.deepEqual(eventsOf(b, record({ status: 'completed', best: best('sw-abc.1', 0.4) })), [
    'sweep.status',
    'sweep.best',
  ]);
});

test('the signature is sha256= and the hex HMAC-SHA256 of "<timestamp>.<body>"', () => {
  const body = '{"id":"x"}';
  const expected = createHmac('sha256', 'secret-0123456789')
    .update(`1700000000.${body}`)
    .digest('hex');
  assert.equal(signWebhook('secret-0123456789', 1700000000, body), `sha256=${expected}`);
  assert.notEqual(signWebhook('secret-0123456789', 1700000001, body), `sha256=${expected}`);
});
