/**
 * What the chaos suite reads and sends through the HTTP API. Lenient on purpose: trial statuses
 * added later (`stalled`, `requeued`) must not break a scenario, and an API that is down answers
 * `undefined` instead of throwing.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { waitFor } from '../harness/index.js';
import type { ChaosStack } from './chaos-stack.js';

export interface ChaosTrial {
  trialId: string;
  trialNumber: number;
  status: string;
  reason?: string;
  epochsCompleted: number;
  finishedAt?: string;
  /** A PBT trial's exploits (see pbt-watch.ts for what is checked of them). */
  pbt?: { lineage: unknown[] };
}

export interface ChaosSweep {
  id: string;
  status: string;
  reason?: string;
  plannedTrials: number;
  finishedAt?: string;
  trials: ChaosTrial[];
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
export const TERMINAL_TRIAL = new Set([
  'completed',
  'early-stopped',
  'failed',
  'diverged',
  'cancelled',
]);

export function isFinished(sweep: ChaosSweep | undefined): sweep is ChaosSweep {
  return sweep !== undefined && FINISHED.has(sweep.status);
}

/** One API request on whichever replica answers; undefined when none does. */
export async function apiRequest(
  stack: ChaosStack,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown } | undefined> {
  for (let i = 0; i < stack.apiPorts.length; i++) {
    const response = await fetch(`${stack.apiUrl(i)}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${stack.apiKey}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    }).catch(() => undefined);
    if (response === undefined || response.status >= 500) continue;
    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }
  return undefined;
}

export async function getSweep(stack: ChaosStack, id: string): Promise<ChaosSweep | undefined> {
  const answer = await apiRequest(stack, 'GET', `/v1/sweeps/${id}`);
  return answer?.status === 200 ? (answer.json as ChaosSweep) : undefined;
}

export async function createSweep(stack: ChaosStack, spec: unknown): Promise<ChaosSweep> {
  const answer = await waitFor(() => apiRequest(stack, 'POST', '/v1/sweeps', spec), {
    what: 'the API to accept the sweep',
    timeoutMs: 60_000,
  });
  if (answer.status !== 201) {
    throw new Error(`POST /v1/sweeps answered ${answer.status}: ${JSON.stringify(answer.json)}`);
  }
  return answer.json as ChaosSweep;
}

/** Sends a cancel; returns the HTTP status (the API must answer it, whatever the phase). */
export async function cancelSweep(stack: ChaosStack, id: string, reason: string): Promise<number> {
  const answer = await waitFor(
    () => apiRequest(stack, 'POST', `/v1/sweeps/${id}/cancel`, { reason }),
    { what: 'the API to take the cancel', timeoutMs: 30_000 },
  );
  return answer.status;
}

/** Polls until `probe(sweep)` holds (the API may be down in between). */
export async function waitSweep(
  stack: ChaosStack,
  id: string,
  what: string,
  probe: (sweep: ChaosSweep) => boolean,
  timeoutMs: number,
  intervalMs = 250,
): Promise<ChaosSweep> {
  return waitFor(
    async () => {
      const sweep = await getSweep(stack, id);
      return sweep !== undefined && probe(sweep) ? sweep : undefined;
    },
    { what, timeoutMs, intervalMs },
  );
}

/** Epochs finished over all trials: the suite's measure of progress. */
export function progress(sweep: ChaosSweep): number {
  return sweep.trials.reduce(
    (sum, t) => sum + t.epochsCompleted + (TERMINAL_TRIAL.has(t.status) ? 1 : 0),
    0,
  );
}

/**
 * Milliseconds from now until the sweep makes progress again (an epoch finishes, a trial ends, or
 * the sweep ends): the "time to recover" printed per scenario.
 */
export async function timeToRecover(
  stack: ChaosStack,
  id: string,
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  let before: number | undefined;
  while (before === undefined && Date.now() - start < timeoutMs) {
    const sweep = await getSweep(stack, id);
    if (isFinished(sweep)) return Date.now() - start;
    if (sweep !== undefined) before = progress(sweep);
    else await sleep(250);
  }
  const base = before ?? 0;
  await waitSweep(
    stack,
    id,
    'the sweep to make progress after the fault',
    (sweep) => isFinished(sweep) || progress(sweep) > base,
    Math.max(1, timeoutMs - (Date.now() - start)),
  );
  return Date.now() - start;
}
