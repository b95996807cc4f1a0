/**
 * `npm run demo`'s library entry point, run small enough for CI: a real stack, the CLI's code, one
 * trial, and a held-out accuracy that must beat chance by a wide margin.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import { runDemo } from './demo/run-demo.js';

test(
  'the demo trains a model that beats chance on held-out images',
  { timeout: 900_000 },
  async (t) => {
    const out = new PassThrough();
    let log = '';
    out.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const result = await runDemo({
      out,
      workers: 1,
      trainImages: 96,
      heldOutImages: 27,
      epochs: 6,
      seRatios: [8],
      // Dropout masks are not seeded in tfjs; without dropout the run is deterministic.
      dropouts: [0],
    }).catch((err: unknown) => {
      t.diagnostic(log);
      throw err;
    });
    t.diagnostic(
      `held-out accuracy: orientation ${result.accuracy.orientation.toFixed(2)}, colour ${result.accuracy.colour.toFixed(2)}, ` +
        `both ${result.accuracy.both.toFixed(2)} in ${result.elapsedSeconds} s`,
    );
    for (const step of ['[1/6]', '[3/6]', '[4/6]', '[5/6]', '[6/6]', 'shutting down'])
      assert.ok(log.includes(step), step);
    assert.match(log, /completed; 1 done/);
    assert.match(log, /verified by sha256/);
    // Chance is 1/3 for colour; a wide margin means at least twice that.
    assert.ok(
      result.accuracy.colour >= 2 * result.chance.colour,
      `colour accuracy ${result.accuracy.colour}`,
    );
    assert.ok(
      result.accuracy.both > result.chance.both,
      `shape and colour ${result.accuracy.both}`,
    );
  },
);
