/**
 * Runs chaos scenarios one after another, each on a fresh stack, and checks the invariants after
 * each. Used by `npm run chaos` (test/chaos/run.ts) and the short variant in `npm test`.
 */
import { deriveSeed, hashString, Prng } from '@setrain/sweep';

import { uploadShapesDataset } from '../fixtures/shapes-dataset.js';
import { ChaosStack } from './chaos-stack.js';
import { FAULT_SCENARIOS } from './fault-scenarios.js';
import { INTENT_SCENARIOS } from './intent-scenarios.js';
import { PBT_SCENARIOS } from './pbt-scenarios.js';
import { REDIS_OUTAGE_SCENARIOS } from './redis-outage-scenarios.js';
import { checkInvariants, describe } from './invariants.js';
import type { Scenario, ScenarioContext } from './scenario.js';

/** Every scenario of `npm run chaos`, in the order it runs them. */
export const SCENARIOS: readonly Scenario[] = [
  ...FAULT_SCENARIOS,
  ...REDIS_OUTAGE_SCENARIOS,
  ...INTENT_SCENARIOS,
  ...PBT_SCENARIOS,
];
export const DEFAULT_CHAOS_SEED = 13;
/** Images of the scenarios' dataset (9 train, 3 validation at validationSplit 0.25). */
const DATASET_IMAGES = 12;

export interface ScenarioResult {
  readonly name: string;
  readonly passed: boolean;
  readonly recoveryMs: number | undefined;
  readonly totalMs: number;
  readonly violations: string[];
  /** Process output tails when the scenario failed. */
  readonly output: string;
}

export interface RunOptions {
  readonly seed: number;
  /** SETRAIN_ENGINE of the workers (auto: native if its addon loads, else wasm). */
  readonly engine?: string;
  readonly log?: (line: string) => void;
}

export function findScenarios(names: readonly string[]): Scenario[] {
  if (names.length === 0) return [...SCENARIOS];
  return names.map((name) => {
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (scenario === undefined) {
      throw new Error(
        `unknown scenario ${name}; one of ${SCENARIOS.map((s) => s.name).join(', ')}`,
      );
    }
    return scenario;
  });
}

/** Runs one scenario on its own stack; never throws (a thrown error is a failed scenario). */
export async function runScenario(
  scenario: Scenario,
  options: RunOptions,
): Promise<ScenarioResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  let stack: ChaosStack | undefined;
  try {
    stack = await ChaosStack.start({
      ...scenario.stack,
      ...(options.engine !== undefined ? { engine: options.engine } : {}),
    });
    const dataset = await uploadShapesDataset(stack.s3Client, stack.bucket, 'datasets/shapes', {
      count: DATASET_IMAGES,
      seed: options.seed,
    });
    const ctx: ScenarioContext = {
      stack,
      // One stream per scenario, so running one alone replays what it did in the whole suite.
      rng: new Prng(deriveSeed(options.seed, hashString(scenario.name))),
      seed: options.seed,
      dataset,
      log: (message) => {
        log(`  [${scenario.name}] ${message}`);
      },
    };
    const outcome = await scenario.run(ctx);
    const { sweep, violations } = await checkInvariants(
      stack,
      outcome.sweepId,
      outcome.maxTrials,
      outcome.expect,
    );
    if (sweep !== undefined && outcome.extraChecks !== undefined && violations.length === 0) {
      violations.push(...(await outcome.extraChecks(sweep)));
    }
    ctx.log(`sweep: ${describe(sweep)}`);
    return {
      name: scenario.name,
      passed: violations.length === 0,
      recoveryMs: outcome.recoveryMs,
      totalMs: Date.now() - started,
      violations,
      output: violations.length > 0 ? stack.outputs() : '',
    };
  } catch (error) {
    return {
      name: scenario.name,
      passed: false,
      recoveryMs: undefined,
      totalMs: Date.now() - started,
      violations: [`scenario error: ${error instanceof Error ? error.message : String(error)}`],
      output: stack?.outputs() ?? '',
    };
  } finally {
    await stack?.stop();
  }
}

/** `PASS worker-sigkill  recovered in 4.2s  (total 95.1s)` */
export function formatResult(result: ScenarioResult): string {
  const recovery =
    result.recoveryMs === undefined
      ? 'recovery -'
      : `recovered in ${(result.recoveryMs / 1000).toFixed(1)}s`;
  const head = `${result.passed ? 'PASS' : 'FAIL'} ${result.name.padEnd(26)} ${recovery.padEnd(22)} (total ${(result.totalMs / 1000).toFixed(1)}s)`;
  return result.passed
    ? head
    : `${head}\n${result.violations.map((v) => `     - ${v}`).join('\n')}`;
}
