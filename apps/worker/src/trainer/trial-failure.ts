import type { TrialOutcome } from '../trial-ipc.js';
import { buildTrialRecord, endLastAttempt, writeTrialRecord } from '../trial-record.js';
import { workerCodeOf } from '../failure-kind.js';
import { errorMessage, UNRECOVERABLE_CODES } from '../worker-error.js';
import { StopRequested, type TrialContext } from './trial-context.js';

type FailedOutcome = Extract<TrialOutcome, { kind: 'failed' }>;

/** How an error ends a trial: its status, code, and whether a retry may help. */
export function classifyTrialError(
  error: unknown,
): Pick<FailedOutcome, 'status' | 'code' | 'message' | 'retryable'> {
  if (error instanceof StopRequested) {
    return {
      status: 'cancelled',
      code: 'TRIAL_CANCELLED',
      message: `cancelled: ${error.message}`,
      retryable: false,
    };
  }
  const code = workerCodeOf(error);
  if (code === undefined) {
    return { status: 'failed', code: 'UNEXPECTED', message: errorMessage(error), retryable: true };
  }
  return {
    status: code === 'TRIAL_DIVERGED' ? 'diverged' : 'failed',
    code,
    message: errorMessage(error),
    retryable: !UNRECOVERABLE_CODES.has(code),
  };
}

/**
 * The outcome of a trial that threw: `stopped` for a shutdown (its last checkpoint stays for the
 * next attempt), else `failed`; a failure no retry can fix also gets its trial.json.
 */
export async function outcomeOfError(ctx: TrialContext, error: unknown): Promise<TrialOutcome> {
  if (error instanceof StopRequested && error.reason === 'shutdown') {
    return { kind: 'stopped', lastCheckpointEpoch: ctx.lastCheckpointEpoch };
  }
  const failure = classifyTrialError(error);
  let trialJsonKey: string | undefined;
  if (!failure.retryable) {
    try {
      const record = buildTrialRecord(ctx.payload, {
        status: failure.status,
        reason: failure.message,
        attemptsLog: endLastAttempt(ctx.request.attemptsLog, failure.status, failure.message),
        epochs: ctx.history,
        provenance: ctx.provenance,
        startedAt: ctx.startedAt,
      });
      await writeTrialRecord(ctx.client, ctx.bucket, ctx.keys.trialJson, record);
      trialJsonKey = ctx.keys.trialJson;
    } catch {
      // The outcome still reaches the worker; trial.json is a best-effort record for failures.
    }
  }
  return {
    kind: 'failed',
    ...failure,
    epochsCompleted: ctx.history.length,
    ...(trialJsonKey !== undefined ? { trialJsonKey } : {}),
  };
}
