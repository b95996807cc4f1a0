import type { Redis } from 'ioredis';
import {
  epochMetricsSchema,
  redisKeys,
  trialStateSchema,
  type Objective,
  type TrialPayload,
  type TrialState,
} from '@setrain/protocol';
import { createScheduler, type Decision, type TrialProgress } from '@setrain/sweep';

import { objectiveOf } from '../objective.js';

/**
 * Every trial of a sweep with its objective after each epoch, read from Redis (the trial states in
 * `sweepTrials(sweepId)` and each trial's `trialEpochs(trialId)` list): the history the stateless
 * early-stopping schedulers decide on. A trial's values stop at its first epoch without the metric,
 * so `epochValues[i]` is always the value after epoch i + 1.
 */
export async function readSweepProgress(
  redis: Redis,
  prefix: string,
  sweepId: string,
  objective: Objective,
): Promise<TrialProgress[]> {
  const keys = redisKeys(prefix);
  const states: TrialState[] = [];
  for (const raw of await redis.hvals(keys.sweepTrials(sweepId))) {
    const parsed = trialStateSchema.safeParse(JSON.parse(raw));
    if (parsed.success) states.push(parsed.data);
  }
  if (states.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const state of states) pipeline.lrange(keys.trialEpochs(state.trialId), 0, -1);
  const lists = (await pipeline.exec()) ?? [];
  return states.map((state, index) => {
    const [error, raws] = lists[index] ?? [null, []];
    const epochValues: number[] = [];
    for (const raw of error === null && Array.isArray(raws) ? (raws as string[]) : []) {
      const metrics = epochMetricsSchema.safeParse(JSON.parse(raw));
      const value = metrics.success ? objectiveOf(metrics.data, objective) : undefined;
      if (value === undefined || metrics.data?.epoch !== epochValues.length + 1) break;
      epochValues.push(value);
    }
    return { trialNumber: state.trialNumber, status: state.status, epochValues };
  });
}

/**
 * Asks the sweep's early-stopping rule (carried in the payload) whether the trial goes on after
 * `epoch`. Decided here, in the worker holding the trial, right after the epoch's metrics are in
 * Redis: no round trip through the controller, and the trial never trains past a stop.
 */
export async function decideAfterEpoch(
  redis: Redis,
  prefix: string,
  payload: TrialPayload,
  epoch: number,
): Promise<Decision> {
  const rule = payload.earlyStopping;
  if (rule === undefined || epoch >= payload.training.epochs) return { action: 'continue' };
  const scheduler = createScheduler(
    rule.type === 'asha' || rule.type === 'hyperband'
      ? { ...rule, maxEpochs: rule.maxEpochs ?? payload.training.epochs }
      : rule,
  );
  const history = await readSweepProgress(redis, prefix, payload.sweepId, payload.objective);
  // The asking trial is running whatever its stored state says (it may lag by one write).
  const own = history.find((t) => t.trialNumber === payload.trialNumber);
  if (own !== undefined) own.status = 'running';
  return scheduler.decide({
    trialNumber: payload.trialNumber,
    epoch,
    history,
    goal: payload.objective.goal,
  });
}
