import { SearchRules, type ParamSet, type RuledSearch } from '@setrain/protocol';

import { SweepError } from './errors.js';

/** Draws a sampler makes for one trial before it gives up on a space's constraints. */
export const MAX_FEASIBILITY_DRAWS = 1000;
/** Salt base of redraws: draw k > 0 of a trial uses salt RETRY_SALT + k (draw 0 uses none, so a
 * space without rules samples exactly what it did before rules existed). */
export const RETRY_SALT = 0x5eed0000;

/** The search's conditions and constraints; a SweepError when they do not parse. */
export function rulesOf(search: RuledSearch): SearchRules {
  const rules = new SearchRules(search);
  const problem = rules.problems[0];
  if (problem !== undefined) {
    throw new SweepError('INVALID_OPTIONS', `search.${problem.path.join('.')}: ${problem.message}`);
  }
  return rules;
}

/** The error for a space whose constraints (nearly) never hold. */
export function infeasibleError(draws: number, what: string): SweepError {
  return new SweepError(
    'INFEASIBLE',
    `no point of the search space met the constraints in ${draws} draws (${what}); loosen search.constraints or narrow the parameters to where they hold`,
  );
}

/**
 * The first feasible result of draw(0), draw(1), ...: the trial's parameters with inactive ones
 * left out. Throws SweepError INFEASIBLE after MAX_FEASIBILITY_DRAWS infeasible draws.
 */
export function firstFeasible(
  rules: SearchRules,
  draw: (attempt: number) => ParamSet,
  what: string,
): ParamSet {
  for (let attempt = 0; attempt < MAX_FEASIBILITY_DRAWS; attempt++) {
    const params = rules.apply(draw(attempt));
    if (params !== undefined) return params;
  }
  throw infeasibleError(MAX_FEASIBILITY_DRAWS, what);
}
