import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { LockWatchdog } from './lock-watchdog.js';

test('a job whose lock goes unrenewed for 80% of the lock duration counts as lost, once', async () => {
  const lost: string[] = [];
  const watchdog = new LockWatchdog({ lockDurationMs: 400, onLost: (id) => lost.push(id) });
  try {
    watchdog.follow('sw-a.1');
    for (let i = 0; i < 5; i++) {
      await sleep(150);
      watchdog.renewed(['sw-a.1']);
    }
    assert.deepEqual(lost, [], 'renewed every 150 ms: never lost');
    await sleep(600);
    assert.deepEqual(lost, ['sw-a.1'], 'unrenewed for 600 ms: lost once');
    watchdog.follow(undefined);
    await sleep(500);
    assert.deepEqual(lost, ['sw-a.1'], 'no job held: nothing to lose');
  } finally {
    watchdog.stop();
  }
});

test("BullMQ's renewal failure loses only the job held now", () => {
  const lost: string[] = [];
  const watchdog = new LockWatchdog({ lockDurationMs: 60_000, onLost: (id) => lost.push(id) });
  try {
    watchdog.follow('sw-a.2');
    watchdog.renewalFailed(['sw-a.1']);
    assert.deepEqual(lost, []);
    watchdog.renewalFailed(['sw-a.2']);
    watchdog.renewalFailed(['sw-a.2']);
    assert.deepEqual(lost, ['sw-a.2']);
  } finally {
    watchdog.stop();
  }
});
