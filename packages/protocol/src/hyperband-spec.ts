import { z } from 'zod';

/** `earlyStopping: { type: hyperband }`: Hyperband's brackets of successive halving over epochs,
 * run asynchronously (defaults in @setrain/sweep: DEFAULT_ASHA_*; brackets default all). */
export const hyperbandEarlyStoppingSchema = z
  .strictObject({
    type: z.literal('hyperband'),
    /** First rung of the most aggressive bracket; bracket b starts at minEpochs * η^b (default 1). */
    minEpochs: z.number().int().min(1).max(10_000).optional(),
    /** η: keep the top 1/η of a bracket at each rung (default 3). */
    reductionFactor: z.number().int().min(2).max(100).optional(),
    /** Full budget (default: the most epochs a trial can run). */
    maxEpochs: z.number().int().min(2).max(10_000).optional(),
    /** Brackets to use, most aggressive first (default all: 1 + the rungs below maxEpochs). */
    brackets: z.number().int().min(1).max(32).optional(),
  })
  .refine((d) => d.maxEpochs === undefined || d.maxEpochs > (d.minEpochs ?? 1), {
    error: 'maxEpochs must exceed minEpochs',
    path: ['maxEpochs'],
  });

/** `search.bohb`: BOHB's own options (its model takes `search.tpe`). */
export const bohbOptionsSchema = z.strictObject({
  /** Fraction of trials sampled at random whatever the model says (default 1/3). */
  randomFraction: z.number().min(0).max(1).optional(),
  /** Finished trials a budget needs before the model uses it (default 2 * (searched + 1)). */
  minPointsInModel: z.number().int().min(2).max(10_000).optional(),
});

/** What checkBohbSpec reads of a sweep spec. */
interface BohbSpecView {
  search: { strategy: string; bohb?: unknown };
  earlyStopping?: { type: string } | undefined;
}

/** BOHB needs Hyperband's budgets: strategy bohb without earlyStopping hyperband is a problem,
 * as are bohb options under another strategy. */
export function checkBohbSpec(
  spec: BohbSpecView,
): { path: (string | number)[]; message: string }[] {
  if (spec.search.strategy !== 'bohb') {
    return spec.search.bohb === undefined
      ? []
      : [
          {
            path: ['search', 'bohb'],
            message: `bohb options need strategy bohb; strategy is ${spec.search.strategy}`,
          },
        ];
  }
  if (spec.earlyStopping?.type === 'hyperband') return [];
  return [
    {
      path: ['earlyStopping'],
      message: `strategy bohb runs inside Hyperband: add earlyStopping: { type: hyperband } (got ${spec.earlyStopping === undefined ? 'none' : spec.earlyStopping.type})`,
    },
  ];
}
