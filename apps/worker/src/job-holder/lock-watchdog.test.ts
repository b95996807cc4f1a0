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

/** Blocks the event loop for `ms` (a GC pause, a long synchronous call in the job holder). */
function stallEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: no timer can run
  }
}

/**
 * The job is renewed, then the event loop stalls for `stallMs` while BullMQ's renewal timer is
 * due (as its LockManager's setTimeout would be); the renewal lands 5 ms after that timer fires.
 */
async function renewalAfterStall(stallMs: number): Promise<string[]> {
  const lost: string[] = [];
  const watchdog = new LockWatchdog({ lockDurationMs: 2000, onLost: (id) => lost.push(id) });
  try {
    watchdog.follow('sw-b.1');
    await sleep(120);
    watchdog.renewed(['sw-b.1']);
    const renewal = new Promise<void>((resolve) => {
      setTimeout(() => {
        setTimeout(() => {
          watchdog.renewed(['sw-b.1']);
          resolve();
        }, 5);
      }, 500);
    });
    stallEventLoop(stallMs);
    await renewal;
    await sleep(300);
    return lost;
  } finally {
    watchdog.stop();
  }
}

test("an event-loop stall short of the lock duration waits for BullMQ's overdue renewal", async () => {
  assert.deepEqual(await renewalAfterStall(1700), [], 'stalled 85% of the lock: not lost');
});

test('an event-loop stall past the lock duration loses the job (the lock expired in Redis)', async () => {
  assert.deepEqual(await renewalAfterStall(2100), ['sw-b.1']);
});
