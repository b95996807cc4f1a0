/**
 * What must hold after every chaos scenario, whatever was killed: the sweep ends; it has exactly
 * the trials it should, numbered 1..n without duplicates; every trial ended; every completed
 * trial's artifacts verify against its trial.json (sha256 and size) and its earlier attempts
 * all ended with an outcome; after the end nothing keeps
 * training for the sweep (no active or waiting job, no worker heartbeat naming one of its trials,
 * no epoch appended) and nothing is stuck. A PBT sweep's scenario adds its PbtWatch's checks.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { redisKeys, runKeys, trialRecordSchema } from '@setrain/protocol';
import { getJson, getObjectBytes } from '@setrain/storage';

import type { ChaosStack } from './chaos-stack.js';
import type { PbtWatch } from './pbt-watch.js';
import { getSweep, isFinished, TERMINAL_TRIAL, type ChaosSweep } from './sweep-client.js';

/** How long a worker may take to stop a trial of an ended sweep (its next batch boundary on
 * 2 busy cores; measured: 4 s from cancel to the job let go). */
export const STOP_GRACE_MS = 10_000;
/** The grace plus more than a worker's heartbeat period (10 s): a worker still training then
 * shows up in the window. */
export const QUIET_PERIOD_MS = 22_000;

type SweepEnd = 'completed' | 'cancelled' | 'failed';

/** What a scenario expects besides the invariants every scenario checks. */
export interface Expectations {
  /** The sweep's final status (or any of several). Default 'completed'. */
  status?: SweepEnd | readonly SweepEnd[];
  /** Exactly this many trials. Default: the spec's maxTrials for a completed sweep. */
  trials?: number;
  /** At most this many trials (cancelled sweeps). */
  maxTrials?: number;
  /** Failed trials allowed, each reason matching this. Default: no trial may fail. */
  failedReason?: RegExp;
  /** Epoch ms at which a cancel was acknowledged: no trial may complete after it. */
  cancelledAt?: number;
  /** How long the sweep may take to end from the start of the check. */
  endTimeoutMs: number;
  /** A PBT sweep's watch: its invariants (lineage, immutable donors, copies, retention) are checked too. */
  pbt?: PbtWatch;
}

export interface CheckResult {
  readonly sweep: ChaosSweep | undefined;
  readonly violations: string[];
}

const TRAINING_JOB_STATES = new Set([
  'active',
  'waiting',
  'delayed',
  'prioritized',
  'waiting-children',
]);
/** How long trials of an ended sweep may take to report their own end. */
export const SETTLE_TIMEOUT_MS = 60_000;
/** Slack for clocks of different processes on one machine. */
const CLOCK_SLACK_MS = 1_000;

export async function checkInvariants(
  stack: ChaosStack,
  sweepId: string,
  maxTrials: number,
  expect: Expectations,
): Promise<CheckResult> {
  const violations: string[] = [];
  const deadline = Date.now() + expect.endTimeoutMs;
  let sweep: ChaosSweep | undefined;
  while (Date.now() < deadline) {
    sweep = await getSweep(stack, sweepId);
    if (isFinished(sweep)) break;
    await sleep(500);
  }
  if (!isFinished(sweep)) {
    violations.push(`sweep did not end within ${expect.endTimeoutMs / 1000}s: ${describe(sweep)}`);
    return { sweep, violations };
  }
  // A stopped trial reports its end once its worker reached a batch boundary: give it that time.
  const settleUntil = Date.now() + SETTLE_TIMEOUT_MS;
  while (sweep.trials.some((t) => !TERMINAL_TRIAL.has(t.status)) && Date.now() < settleUntil) {
    await sleep(500);
    sweep = (await getSweep(stack, sweepId)) ?? sweep;
  }
  const expected: readonly string[] = [expect.status ?? 'completed'].flat();
  if (!expected.includes(sweep.status)) {
    violations.push(
      `sweep ended ${sweep.status} (${sweep.reason ?? ''}), expected ${expected.join(' or ')}`,
    );
  }
  checkTrialNumbers(sweep, maxTrials, expect, violations);
  for (const trial of sweep.trials) {
    if (!TERMINAL_TRIAL.has(trial.status)) {
      violations.push(`trial ${trial.trialNumber} is ${trial.status} in a ${sweep.status} sweep`);
    }
    if (trial.status === 'failed' || trial.status === 'diverged') {
      if (expect.failedReason === undefined || !expect.failedReason.test(trial.reason ?? '')) {
        violations.push(
          `trial ${trial.trialNumber} ${trial.status}: ${trial.reason ?? 'no reason'}`,
        );
      }
    }
    if (
      expect.cancelledAt !== undefined &&
      trial.status === 'completed' &&
      Date.parse(trial.finishedAt ?? '') > expect.cancelledAt + CLOCK_SLACK_MS
    ) {
      violations.push(`trial ${trial.trialNumber} completed after the sweep was cancelled`);
    }
    if (trial.status === 'completed' || trial.status === 'early-stopped') {
      violations.push(...(await verifyArtifacts(stack, sweep.id, trial.trialId, trial.status)));
    }
  }
  violations.push(...(await checkNothingTraining(stack, sweep)));
  if (expect.pbt !== undefined) violations.push(...(await expect.pbt.check()));
  return { sweep, violations };
}

function checkTrialNumbers(
  sweep: ChaosSweep,
  maxTrials: number,
  expect: Expectations,
  violations: string[],
): void {
  const numbers = sweep.trials.map((t) => t.trialNumber).sort((a, b) => a - b);
  const duplicates = numbers.filter((n, i) => numbers[i - 1] === n);
  if (duplicates.length > 0) violations.push(`duplicate trial numbers ${duplicates.join(', ')}`);
  if (new Set(sweep.trials.map((t) => t.trialId)).size !== sweep.trials.length) {
    violations.push('duplicate trial ids');
  }
  if (numbers.some((n, i) => n !== i + 1)) violations.push(`trial numbers ${numbers.join(', ')}`);
  const exact = expect.trials ?? (sweep.status === 'completed' ? maxTrials : undefined);
  if (exact !== undefined && sweep.trials.length !== exact) {
    violations.push(`${sweep.trials.length} trials, expected exactly ${exact}`);
  }
  if (sweep.trials.length > (expect.maxTrials ?? maxTrials)) {
    violations.push(`${sweep.trials.length} trials, more than ${expect.maxTrials ?? maxTrials}`);
  }
}

/** trial.json says what the sweep says, and every artifact it lists has its sha256 and size. */
async function verifyArtifacts(
  stack: ChaosStack,
  sweepId: string,
  trialId: string,
  status: string,
): Promise<string[]> {
  const key = runKeys(sweepId).trial(trialId).trialJson;
  let record;
  try {
    record = trialRecordSchema.parse((await getJson(stack.s3Client, stack.bucket, key)).value);
  } catch (error) {
    return [`trial ${trialId}: no readable trial.json (${String(error)})`];
  }
  const problems: string[] = [];
  if (record.status !== status)
    problems.push(`trial ${trialId}: trial.json says ${record.status}, the sweep ${status}`);
  if (record.artifacts.length === 0)
    problems.push(`trial ${trialId}: trial.json lists no artifacts`);
  const open = (record.attemptsLog ?? []).slice(0, -1).filter((a) => a.outcome === undefined);
  if (open.length > 0) {
    problems.push(
      `trial ${trialId}: earlier attempts with no outcome (${open.map((a) => a.workerId).join(', ')})`,
    );
  }
  const epochs = record.epochs.map((e) => e.epoch);
  if (epochs.some((e, i) => e !== i + 1))
    problems.push(`trial ${trialId}: epoch history ${epochs.join(',')}`);
  for (const artifact of record.artifacts) {
    const bytes = (
      await getObjectBytes(stack.s3Client, stack.bucket, artifact.key).catch(() => undefined)
    )?.bytes;
    if (bytes === undefined) {
      problems.push(`trial ${trialId}: artifact ${artifact.key} is missing`);
      continue;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== artifact.sha256 || bytes.length !== artifact.bytes) {
      problems.push(`trial ${trialId}: artifact ${artifact.key} does not match its record`);
    }
  }
  return problems;
}

/** After a quiet period: no job of the sweep active or waiting, no worker on one of its trials,
 * no epoch appended, the sweep's status unchanged. */
async function checkNothingTraining(stack: ChaosStack, sweep: ChaosSweep): Promise<string[]> {
  const redis = stack.redisClient();
  const queue = stack.queue(redis);
  const keys = redisKeys(stack.keyPrefix);
  const trialIds = new Set(sweep.trials.map((t) => t.trialId));
  const epochCounts = async (): Promise<number[]> =>
    Promise.all([...trialIds].map((id) => redis.llen(keys.trialEpochs(id))));
  const problems: string[] = [];
  const endedAt = Date.parse(sweep.finishedAt ?? '') || Date.now();
  try {
    const before = await epochCounts();
    const busy = new Set<string>();
    const until = Date.now() + QUIET_PERIOD_MS;
    while (Date.now() < until) {
      for (const value of Object.values(await redis.hgetall(keys.workers))) {
        const beat = JSON.parse(value) as { trialId?: string; updatedAt?: string };
        // A worker stops at its next batch boundary: a beat written later than that counts.
        const fresh = Date.parse(beat.updatedAt ?? '') > endedAt + STOP_GRACE_MS;
        if (fresh && beat.trialId !== undefined && trialIds.has(beat.trialId))
          busy.add(beat.trialId);
      }
      await sleep(2_000);
    }
    if (busy.size > 0) {
      problems.push(
        `workers still on ${[...busy].join(', ')} after the sweep ended ${sweep.status}`,
      );
    }
    const after = await epochCounts();
    if (after.some((n, i) => n !== before[i])) {
      problems.push(
        `epochs were appended after the sweep ended (${before.join(',')} -> ${after.join(',')})`,
      );
    }
    for (const trialId of trialIds) {
      const state = await (await queue.getJob(trialId))?.getState();
      if (state !== undefined && TRAINING_JOB_STATES.has(state)) {
        problems.push(`job ${trialId} is ${state} after the sweep ended`);
      }
    }
    const later = await getSweep(stack, sweep.id);
    if (later !== undefined && later.status !== sweep.status) {
      problems.push(`sweep went from ${sweep.status} to ${later.status} after it ended`);
    }
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
  return problems;
}

export function describe(sweep: ChaosSweep | undefined): string {
  if (sweep === undefined) return 'API not answering';
  const trials = sweep.trials
    .map(
      (t) =>
        `#${t.trialNumber} ${t.status} e${t.epochsCompleted}${t.reason ? ` (${t.reason.slice(0, 120)})` : ''}`,
    )
    .join('; ');
  return `${sweep.status}${sweep.reason ? ` (${sweep.reason})` : ''}: ${trials}`;
}
