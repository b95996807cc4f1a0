import { type TrialState } from '@setrain/protocol';

import { type SweepRecord } from './sweep-record.js';
import { frontOf, toSweepSummary, toTrialSummary } from './views.js';

/**
 * Each trial state's summary as JSON, by state object: the store hands out the same (frozen)
 * state objects while a trial's JSON in Redis is unchanged, so a sweep read re-serialises only
 * the trials that changed since the last read.
 */
const summaryJson = new WeakMap<TrialState, string>();

function trialSummaryJson(state: TrialState): string {
  let json = summaryJson.get(state);
  if (json === undefined) {
    json = JSON.stringify(toTrialSummary(state));
    if (Object.isFrozen(state)) summaryJson.set(state, json);
  }
  return json;
}

/**
 * GET /v1/sweeps/:id's body as JSON: what `toSweepDetail` builds (plus `extra`), serialised without validating
 * it again against the response schema (every part was parsed when read from Redis; the test
 * next to this file checks both give the same document). A 1,000-trial sweep's response
 * validation cost more than the rest of the read.
 */
export function sweepDetailJson(
  record: SweepRecord,
  trials: readonly TrialState[],
  extra: { readonly submitter?: string } = {},
): string {
  const head = JSON.stringify({
    ...toSweepSummary(record, trials),
    spec: record.spec,
    ...frontOf(record, trials),
    ...extra,
  });
  return `${head.slice(0, -1)},"trials":[${trials.map(trialSummaryJson).join(',')}]}`;
}
