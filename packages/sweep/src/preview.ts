import type { Goal, ParamSet } from '@setrain/protocol';

import { createSampler, plannedTrialCount } from './sampler.js';
import { DEFAULT_TPE_STARTUP_TRIALS } from './tpe-sampler.js';
import type { SearchSpace } from './types.js';

/** The parts of a sweep spec a preview reads; the protocol's SweepSpec is assignable to it. */
export interface PreviewSpec {
  search: SearchSpace;
  maxTrials?: number | undefined;
  training: { seed: number };
  objective: { goal: Goal };
}

export interface PreviewOptions {
  /** Sampler seed; default the spec's training.seed (what the controller uses). */
  seed?: number;
}

export interface PreviewEntry {
  trialNumber: number;
  params: ParamSet;
  /**
   * True when the real sweep would choose differently because the sampler adapts to results
   * (TPE after its startup trials): the preview, having no results, shows the random fallback.
   */
  dependsOnResults: boolean;
}

/**
 * The first n configurations a spec would run, at most its planned trial count. Grid, random and
 * sobol previews are exact. TPE's first startupTrials are exact too; later entries assume no
 * history (TPE then samples at random) and are flagged `dependsOnResults`, as is every BOHB entry.
 */
export function preview(
  spec: PreviewSpec,
  n: number,
  options: PreviewOptions = {},
): PreviewEntry[] {
  const sampler = createSampler(spec.search, {
    seed: options.seed ?? spec.training.seed,
    goal: spec.objective.goal,
  });
  // BOHB's model may take over any trial once results exist: every entry depends on them.
  const startup =
    spec.search.strategy === 'tpe'
      ? (spec.search.tpe?.startupTrials ?? DEFAULT_TPE_STARTUP_TRIALS)
      : spec.search.strategy === 'bohb'
        ? 0
        : Infinity;
  const count = Math.min(Math.max(0, Math.floor(n)), plannedTrialCount(spec));
  const entries: PreviewEntry[] = [];
  for (let trialNumber = 1; trialNumber <= count; trialNumber++) {
    const params = sampler.suggest({ trialNumber, history: [] });
    if (!params) break;
    entries.push({ trialNumber, params, dependsOnResults: trialNumber > startup });
  }
  return entries;
}
