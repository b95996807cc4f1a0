import { MAX_TRIALS_LIMIT, type SweepSpec } from '@setrain/protocol';
import { gridSize } from '@setrain/sweep';

import { ApiError } from './errors.js';

/**
 * A grid without `maxTrials` runs every combination: past MAX_TRIALS_LIMIT that is refused (a
 * probe stored 83,886,080,000 planned trials, and trial ids stop at 999,999).
 */
export function checkGridSize(spec: SweepSpec): void {
  if (spec.search.strategy !== 'grid' || spec.maxTrials !== undefined) return;
  const size = gridSize(spec.search);
  if (size <= MAX_TRIALS_LIMIT) return;
  const message = `the grid has ${size} combinations, more than the ${MAX_TRIALS_LIMIT}-trial limit; set maxTrials (at most ${MAX_TRIALS_LIMIT}) or use fewer values`;
  throw new ApiError('SPEC_INVALID', { detail: `maxTrials: ${message}` }, [
    { path: 'maxTrials', message },
  ]);
}
