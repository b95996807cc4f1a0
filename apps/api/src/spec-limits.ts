import { MAX_TRIALS_LIMIT, type SweepSpec } from '@setrain/protocol';
import { createSampler, createSchedulerForSpec, gridSize, SweepError } from '@setrain/sweep';

import { ApiError } from './errors.js';

/** A SweepError about the search section as a 400 at the field it concerns. */
function searchProblem(error: SweepError): ApiError {
  const path = error.code === 'INFEASIBLE' ? 'search.constraints' : 'search';
  return new ApiError('SPEC_INVALID', { detail: `${path}: ${error.message}` }, [
    { path, message: error.message },
  ]);
}

/**
 * The search section's checks that need the sampler: a space whose conditions and constraints no
 * point meets (trial 1 finds none within the sampler's redraws, or a grid keeps no point) is
 * refused at submit, as is a grid too large to enumerate under rules; then the grid's size.
 */
export function checkSearchSpace(spec: SweepSpec): void {
  const { constraints = [], parameters } = spec.search;
  if (constraints.length > 0 || Object.values(parameters).some((d) => d.when !== undefined)) {
    try {
      const sampler = createSampler(spec.search, { seed: spec.training.seed, goal: 'minimize' });
      if (sampler.suggest({ trialNumber: 1, history: [] }) === undefined) {
        throw new SweepError(
          'INFEASIBLE',
          'no point of the grid meets the constraints; loosen search.constraints or add values',
        );
      }
    } catch (error) {
      if (error instanceof SweepError) throw searchProblem(error);
      throw error;
    }
  }
  checkGridSize(spec);
  try {
    // Scheduler options the schema cannot check alone (e.g. more Hyperband brackets than rungs).
    createSchedulerForSpec(spec);
  } catch (error) {
    if (!(error instanceof SweepError)) throw error;
    throw new ApiError('SPEC_INVALID', { detail: `earlyStopping: ${error.message}` }, [
      { path: 'earlyStopping', message: error.message },
    ]);
  }
}

/**
 * A grid without `maxTrials` runs every combination: past MAX_TRIALS_LIMIT that is refused (a
 * probe stored 83,886,080,000 planned trials, and trial ids stop at 999,999).
 */
export function checkGridSize(spec: SweepSpec): void {
  if (spec.search.strategy !== 'grid' || spec.maxTrials !== undefined) return;
  let size: number;
  try {
    size = gridSize(spec.search);
  } catch (error) {
    if (error instanceof SweepError) throw searchProblem(error);
    throw error;
  }
  if (size <= MAX_TRIALS_LIMIT) return;
  const message = `the grid has ${size} combinations, more than the ${MAX_TRIALS_LIMIT}-trial limit; set maxTrials (at most ${MAX_TRIALS_LIMIT}) or use fewer values`;
  throw new ApiError('SPEC_INVALID', { detail: `maxTrials: ${message}` }, [
    { path: 'maxTrials', message },
  ]);
}
