import assert from 'node:assert/strict';
import { test } from 'node:test';

import { retryInfrastructure } from './retry.js';

const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

test('an operation failing with an unreachable service is retried until it succeeds', async () => {
  let calls = 0;
  const value = await retryInfrastructure(
    () => {
      calls += 1;
      return calls < 3 ? Promise.reject(refused()) : Promise.resolve('written');
    },
    { initialDelayMs: 5, maxDelayMs: 10 },
  );
  assert.equal(value, 'written');
  assert.equal(calls, 3);
});

test('other errors are not retried, and an outage longer than the window is rethrown', async () => {
  let calls = 0;
  await assert.rejects(
    retryInfrastructure(() => {
      calls += 1;
      return Promise.reject(
        new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      );
    }),
    /WRONGTYPE/,
  );
  assert.equal(calls, 1);
  const started = Date.now();
  await assert.rejects(
    retryInfrastructure(() => Promise.reject(refused()), {
      withinMs: 100,
      initialDelayMs: 10,
      maxDelayMs: 20,
    }),
    /ECONNREFUSED/,
  );
  assert.ok(Date.now() - started < 1000);
});
