import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { allSettledOrThrow } from './all-settled-or-throw.js';

test('allSettledOrThrow resolves to the values in input order', async () => {
  const [text, count] = await allSettledOrThrow([
    sleep(10).then(() => 'slow'),
    Promise.resolve(2),
  ] as const);
  assert.equal(text, 'slow');
  assert.equal(count, 2);
});

test('allSettledOrThrow rejects only after every promise settled, with the first failure in input order', async () => {
  let slowDone = false;
  await assert.rejects(
    allSettledOrThrow([
      sleep(20).then(() => {
        slowDone = true;
      }),
      sleep(10).then(() => {
        throw new Error('second');
      }),
      Promise.reject(new Error('third')),
    ]),
    (error: unknown) => {
      assert.ok(slowDone, 'rejected while a promise was still pending');
      assert.equal((error as Error).message, 'second');
      return true;
    },
  );
});
