import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapWithConcurrency } from './map-with-concurrency.js';

test('mapWithConcurrency keeps input order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const results = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (ms, index) => {
    running++;
    peak = Math.max(peak, running);
    await sleep(ms);
    running--;
    return `${index}:${ms}`;
  });
  assert.deepEqual(results, ['0:5', '1:1', '2:4', '3:2', '4:3']);
  assert.equal(peak, 2);
  assert.deepEqual(await mapWithConcurrency([], 3, () => Promise.resolve(1)), []);
});

test('mapWithConcurrency starts nothing after a failure and rejects once running tasks settle', async () => {
  const started: number[] = [];
  let slowDone = false;
  await assert.rejects(
    mapWithConcurrency([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      if (item === 0) throw new Error('boom');
      await sleep(20);
      slowDone = true;
    }),
    /boom/,
  );
  assert.deepEqual(started, [0, 1]);
  assert.ok(slowDone, 'the task already running finished before the rejection');
  await assert.rejects(
    mapWithConcurrency([1], 0, () => Promise.resolve()),
    RangeError,
  );
});
