import { type SweepSpec } from '@setrain/protocol';

import { isAdmin, type Principal } from './auth.js';
import { ApiError } from './errors.js';
import { isOthersSweep, type SweepOwners } from './ownership.js';

/**
 * A key without `admin` may warm-start only from its own sweeps: `warmStart.sweeps` reads the
 * named sweeps' trials, so it is a read like `GET /v1/sweeps/:id/trials` and answers the same 403
 * FORBIDDEN for another key's sweep (or one from before ownership). Sweeps that do not exist are
 * left to the warm-start check's 400.
 */
export async function checkWarmStartAccess(
  owners: SweepOwners,
  principal: Principal | undefined,
  spec: SweepSpec,
): Promise<void> {
  if (spec.warmStart === undefined || principal === undefined || isAdmin(principal)) return;
  for (const [index, sweepId] of spec.warmStart.sweeps.entries()) {
    if (!(await isOthersSweep(owners, sweepId, principal))) continue;
    throw new ApiError(
      'FORBIDDEN',
      {
        keyName: principal.name,
        action: 'warm-start from',
        detail: `warmStart.sweeps[${index}]: sweep ${sweepId} was submitted by another key; warm-start from your own sweeps (only admin keys reach every sweep)`,
      },
      [{ path: `warmStart.sweeps[${index}]`, message: `sweep ${sweepId} belongs to another key` }],
    );
  }
}
