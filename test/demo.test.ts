/**
 * `npm run demo`'s library entry point, run small enough for CI: a real stack, the CLI's code, one
 * trial (120 images, 10 epochs), and held-out accuracies (orientation, colour, both) of at least 80%.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import { DEMO_LEARNED_ACCURACY, runDemo } from './demo/run-demo.js';

test(
  'the demo trains a model that learns: every held-out accuracy is at least 80%',
  { timeout: 900_000 },
  async (t) => {
    const out = new PassThrough();
    let log = '';
    out.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const result = await runDemo({
      out,
      workers: 1,
      // 96 images x 6 epochs is too close to the line: one change of the seeded data split moved
      // orientation from 93% to 67%. At the demo's own budget it is well clear of it.
      trainImages: 120,
      heldOutImages: 27,
      epochs: 10,
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
    // The run is deterministic (no dropout, seeded data and weights); measured 0.89 / 1.00 / 0.89
    // (best epoch 8 of 10).
    for (const label of ['orientation', 'colour', 'both'] as const)
      assert.ok(
        result.accuracy[label] >= DEMO_LEARNED_ACCURACY,
        `${label} accuracy ${result.accuracy[label]} < ${DEMO_LEARNED_ACCURACY} (chance ${result.chance[label]})`,
      );
  },
);
