// The native engine's kernel queue where a process ends or collects garbage while kernels are still
// queued: both crashed the process (SIGSEGV or a malloc abort) before the queue kept arrays alive
// and let queued kernels finish at exit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

import { nativeAddonUnavailableReason } from '@setrain/engine-native';
import { engineSkipReason } from '@setrain/testing';

const skip = engineSkipReason('native', nativeAddonUnavailableReason());
const CHILD = fileURLToPath(new URL('../fixtures/queued-kernels-child.ts', import.meta.url));

/** Runs the child in `mode`; its exit code (a signal shows as a rejection) and JSON line. */
async function runChild(mode: 'exit' | 'gc'): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, mode],
    { timeout: 120_000 },
  );
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

test('process.exit() with kernels still queued exits cleanly', { skip }, async () => {
  // Before the fix this exited by SIGSEGV inside oneDNN (its statics torn down under a running
  // kernel), and execFile rejected.
  assert.deepEqual(await runChild('exit'), { queuedAtExit: true });
});

test(
  'an array dropped and garbage-collected while a queued kernel reads it stays valid',
  { skip },
  async () => {
    // Without the queue keeping it reachable, the 16 MiB array was unmapped under the kernel
    // (SIGSEGV, or "corrupted double-linked list" and SIGABRT).
    assert.deepEqual(await runChild('gc'), { equal: true });
  },
);
