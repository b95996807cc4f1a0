/**
 * Which engines a test run expects to load. A test of an engine that is unavailable skips with its
 * reason on a developer's machine, but fails where the run expects that engine: in CI a broken
 * build or a missing driver must be a failure, never a quiet skip.
 *
 * The list comes from `SETRAIN_TEST_EXPECTED_ENGINES` (comma-separated engine names; `.ci/run` sets
 * it). This is test-process configuration, read once here, never by product code.
 */

/** Engines whose tests may turn into skips when the engine cannot load. */
export const TESTED_ENGINES = ['native', 'wasm', 'webgpu', 'tensorflow'] as const;
export type TestedEngine = (typeof TESTED_ENGINES)[number];

/** Thrown when an engine the run expects does not load. */
export class ExpectedEngineMissingError extends Error {
  constructor(engine: string, reason: string) {
    super(
      `engine ${engine} is expected to load in this run (SETRAIN_TEST_EXPECTED_ENGINES) but did not: ${reason}`,
    );
    this.name = 'ExpectedEngineMissingError';
  }
}

/** Parses a comma-separated engine list; names outside TESTED_ENGINES are an error. */
export function parseExpectedEngines(text: string | undefined): ReadonlySet<TestedEngine> {
  const names = (text ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  for (const name of names) {
    if (!(TESTED_ENGINES as readonly string[]).includes(name)) {
      throw new Error(
        `SETRAIN_TEST_EXPECTED_ENGINES: unknown engine "${name}"; allowed: ${TESTED_ENGINES.join(', ')}`,
      );
    }
  }
  return new Set(names as TestedEngine[]);
}

let expected: ReadonlySet<TestedEngine> | undefined;

/** The engines this run expects, parsed once per process. */
export function expectedEngines(): ReadonlySet<TestedEngine> {
  expected ??= parseExpectedEngines(process.env.SETRAIN_TEST_EXPECTED_ENGINES);
  return expected;
}

/**
 * The skip reason for tests of `engine` when it is unavailable (`unavailable` says why), or
 * undefined when it loaded. Throws ExpectedEngineMissingError instead of skipping when the run
 * expects the engine; prints the reason of every skip so a local run shows what it did not test.
 */
export function engineSkipReason(
  engine: TestedEngine,
  unavailable: string | undefined,
  expectedSet: ReadonlySet<TestedEngine> = expectedEngines(),
): string | undefined {
  if (unavailable === undefined) return undefined;
  if (expectedSet.has(engine)) throw new ExpectedEngineMissingError(engine, unavailable);
  const reason = `${engine} unavailable here: ${unavailable}`;
  console.warn(`[skip] ${reason}`);
  return reason;
}
