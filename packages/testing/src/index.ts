export {
  ExpectedEngineMissingError,
  TESTED_ENGINES,
  engineSkipReason,
  expectedEngines,
  parseExpectedEngines,
  type TestedEngine,
} from './expected-engines.js';
export { closeness, valuesOn } from './tensor-compare.js';
