// How a finished BullMQ job of a trial maps to the trial's state (pure: reads only the job).
import { trialResultSchema, type TrialState, type TrialStatus } from '@setrain/protocol';
import { type Job } from 'bullmq';

function finishedAt(job: Job): string {
  return new Date(job.finishedOn ?? Date.now()).toISOString();
}

/** The trial state after its job completed with `job.returnvalue` (a TrialResult). */
export function applyResult(state: TrialState, job: Job): TrialState {
  const parsed = trialResultSchema.safeParse(job.returnvalue);
  if (!parsed.success) {
    return {
      ...state,
      status: 'failed',
      reason: `the worker returned an invalid result: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      attempts: job.attemptsMade,
      finishedAt: finishedAt(job),
    };
  }
  const result = parsed.data;
  return {
    ...state,
    status: result.status,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    objectiveValue: result.objectiveValue,
    ...(result.trialMetrics !== undefined ? { trialMetrics: result.trialMetrics } : {}),
    epochsCompleted: Math.max(state.epochsCompleted, result.epochsCompleted),
    trialJson: result.trialJson,
    attempts: job.attemptsMade,
    finishedAt: finishedAt(job),
  };
}

/** How a failed job's reason maps to a trial status (the worker words cancels and divergence so). */
export function failureStatus(failedReason: string): TrialStatus {
  if (/cancel/i.test(failedReason)) return 'cancelled';
  if (/diverg/i.test(failedReason)) return 'diverged';
  return 'failed';
}

/** The trial state after its job failed for good with `job.failedReason`. */
export function applyFailure(state: TrialState, job: Job): TrialState {
  const reason = job.failedReason || 'failed without a reason';
  return {
    ...state,
    status: failureStatus(reason),
    reason,
    attempts: job.attemptsMade,
    finishedAt: finishedAt(job),
  };
}
