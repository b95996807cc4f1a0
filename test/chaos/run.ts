/**
 * `npm run chaos [-- --scenario NAME ...] [--seed N] [--engine NAME] [--list]`: runs the chaos
 * scenarios on real processes, prints one line per scenario (pass/fail, time to recover) and exits
 * non-zero if any failed.
 */
import { parseArgs } from 'node:util';

import {
  DEFAULT_CHAOS_SEED,
  findScenarios,
  formatResult,
  runScenario,
  SCENARIOS,
} from './runner.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true, default: [] },
    seed: { type: 'string', default: String(DEFAULT_CHAOS_SEED) },
    engine: { type: 'string' },
    list: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

if (values.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(26)} ${s.description}`);
  process.exit(0);
}
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer, not ${values.seed}`);
  process.exit(2);
}
let scenarios;
try {
  scenarios = findScenarios(values.scenario.flatMap((s) => s.split(',')));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
console.log(`chaos: ${scenarios.length} scenario(s), seed ${seed}`);
let failed = 0;
for (const scenario of scenarios) {
  const result = await runScenario(scenario, {
    seed,
    ...(values.engine !== undefined ? { engine: values.engine } : {}),
    log: (line) => {
      console.log(line);
    },
  });
  console.log(formatResult(result));
  if (!result.passed) {
    failed++;
    if (values.verbose) console.log(result.output);
  }
}
console.log(`chaos: ${scenarios.length - failed} passed, ${failed} failed (seed ${seed})`);
process.exit(failed > 0 ? 1 : 0);
