// The short chaos variant that runs in `npm test`: the cheapest, most telling scenarios of
// `npm run chaos` (a worker SIGKILLed at random moments, S3 unreachable for 15 s mid-trial, a
// cancel sent while a SIGTERMed worker gives its trial back, the API SIGKILLed as a PBT exploit
// copies a checkpoint), each on its own real stack (Redis with AOF, s3rver, the API and worker
// processes), with the suite's invariants checked after each.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_CHAOS_SEED, formatResult, runScenario, SCENARIOS } from './runner.js';

for (const scenario of SCENARIOS.filter((s) => s.short === true)) {
  test(`chaos: ${scenario.name} (${scenario.description})`, async (t) => {
    const result = await runScenario(scenario, {
      seed: DEFAULT_CHAOS_SEED,
      log: (line) => {
        t.diagnostic(line);
      },
    });
    t.diagnostic(formatResult(result));
    assert.ok(result.passed, `${formatResult(result)}\n${result.output}`);
  });
}
