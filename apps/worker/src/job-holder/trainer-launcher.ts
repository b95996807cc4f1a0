import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { CheckpointRoot, EpochMetrics } from '@setrain/protocol';

import type { WorkerMetricEvent } from '../metrics.js';

import type {
  ChildMessage,
  EarlyStopDecision,
  ParentMessage,
  PreflightRequest,
  PreflightResult,
  StopReason,
  TrialOutcome,
  TrialRunRequest,
  TrialStarted,
} from '../trial-ipc.js';
import { isInfrastructureError } from '../failure-kind.js';
import { errorMessage, WorkerError } from '../worker-error.js';

/** Callbacks for what a trial process reports; async ones run one at a time, in order. */
export interface TrialProcessListeners {
  onStarted?(started: TrialStarted): void | Promise<void>;
  onPhase?(phase: string): void | Promise<void>;
  onBatch?(progress: {
    epoch: number;
    batch: number;
    batches: number;
    loss: number;
  }): void | Promise<void>;
  onEpoch?(
    metrics: EpochMetrics,
    numTensors: number,
    /** The checkpoints kept after this epoch's, for the trial's Redis state. */
    checkpoints: readonly CheckpointRoot[],
    /** The checkpoints this epoch's supersedes: to delete only once `checkpoints` is recorded. */
    superseded: readonly CheckpointRoot[],
  ): void | Promise<void>;
  /**
   * The early-stopping decision after `epoch` (runs after that epoch's onEpoch). Without it, or
   * when it throws, the trial goes on; the trial process always gets an answer.
   */
  onDecide?(epoch: number): EarlyStopDecision | Promise<EarlyStopDecision>;
  /** Measurements for /metrics; called at once, in order, not queued behind async listeners. */
  onMetric?(event: WorkerMetricEvent): void;
}

/** How trial processes are started. */
export interface TrialProcessOptions {
  /** Script the child runs. Default: trainer/trainer-main (.ts under tsx, .js when built). */
  readonly entry?: string;
  /** Node flags for the child. Default: what running `.ts` sources needs, nothing for built `.js`. */
  readonly execArgv?: readonly string[];
  /** Environment of the child. Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * How long a stopped trial may take to reach a batch boundary before its process is killed. A
   * wasm train step can take tens of seconds, and nothing is lost by killing: checkpoints are only
   * written whole, at epoch ends. Default 3 s.
   */
  readonly stopGraceMs?: number;
}

export const DEFAULT_STOP_GRACE_MS = 3000;

/** A running trial process. */
export interface RunningTrial {
  /** Resolves with the trial's outcome once its listeners have run; rejects when the process dies first. */
  readonly outcome: Promise<TrialOutcome>;
  /** Asks the trial to stop at its next batch boundary. */
  stop(reason: StopReason, message: string): void;
  /** Kills the process (last resort). */
  kill(): void;
  readonly pid: number | undefined;
}

/** Starts trial processes; tests may substitute one that adds faults. */
export type TrialLauncher = (
  request: TrialRunRequest,
  listeners: TrialProcessListeners,
) => RunningTrial;

function defaultEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`../trainer/trainer-main${extname(self)}`, import.meta.url));
}

/** The error a trial ends with when a listener failed: resumable when it was an outage. */
function listenerFailure(error: unknown): Error {
  const message = `the worker could not record the trial's progress: ${errorMessage(error)}`;
  return isInfrastructureError(error)
    ? new WorkerError('INFRASTRUCTURE_UNAVAILABLE', message, { cause: error })
    : new Error(message, { cause: error });
}

/** Forks a trainer process (trainer/trainer-main) that waits for its first message. */
function forkTrainer(options: TrialProcessOptions): ChildProcess {
  const entry = options.entry ?? defaultEntry();
  const execArgv =
    options.execArgv ?? (entry.endsWith('.ts') ? ['--conditions=source', '--import', 'tsx'] : []);
  return fork(entry, [], {
    execArgv: [...execArgv],
    env: options.env ?? process.env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
}

/** Checks the engine in a trainer process before the worker takes jobs. */
export type PreflightRunner = (request: PreflightRequest) => Promise<PreflightResult>;

/** How long a preflight may take (engine load, first kernels compiled) before it counts as failed. */
export const DEFAULT_PREFLIGHT_TIMEOUT_MS = 180_000;

/** A preflight runner that forks a trainer process, as trials do, and asks it for one tiny step. */
export function forkPreflight(
  options: TrialProcessOptions & { readonly timeoutMs?: number } = {},
): PreflightRunner {
  return (request) =>
    new Promise<PreflightResult>((resolve) => {
      const child = forkTrainer(options);
      let result: PreflightResult | undefined;
      const timer = setTimeout(() => {
        result ??= {
          ok: false,
          message: `no answer within ${(options.timeoutMs ?? DEFAULT_PREFLIGHT_TIMEOUT_MS) / 1000} s`,
        };
        child.kill('SIGKILL');
      }, options.timeoutMs ?? DEFAULT_PREFLIGHT_TIMEOUT_MS);
      child.on('message', (message: ChildMessage) => {
        if (message.type === 'preflight-result') result = message.result;
      });
      child.on('error', (error) => {
        result ??= { ok: false, message: errorMessage(error) };
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve(
          result ?? {
            ok: false,
            message: `the trainer process exited without an answer (code ${code ?? 'none'}, signal ${signal ?? 'none'})`,
          },
        );
      });
      child.send({ type: 'preflight', request } satisfies ParentMessage);
    });
}

/** A launcher that forks one Node process per trial. */
export function forkTrialLauncher(options: TrialProcessOptions = {}): TrialLauncher {
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  return (request, listeners) => {
    const child = forkTrainer(options);
    let chain: Promise<void> = Promise.resolve();
    let listenerError: Error | undefined;
    let outcome: TrialOutcome | undefined;
    let forcedStop: { reason: StopReason; message: string } | undefined;
    let stopTimer: NodeJS.Timeout | undefined;
    const stop = (reason: StopReason, message: string): void => {
      send({ type: 'stop', reason, message });
      if (forcedStop?.reason === 'cancel') return;
      forcedStop = { reason, message };
      stopTimer ??= setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
    };
    const enqueue = (work: () => void | Promise<void>): void => {
      chain = chain.then(work).catch((error: unknown) => {
        if (listenerError !== undefined) return;
        // The job holder could not record what the trainer reported (Redis unreachable after
        // retries): stop training now rather than train on unrecorded; the last checkpoint stays.
        listenerError = listenerFailure(error);
        stop('shutdown', listenerError.message);
      });
    };
    let epochsCompleted = 0;
    const done = new Promise<TrialOutcome>((resolve, reject) => {
      child.on('message', (message: ChildMessage) => {
        switch (message.type) {
          case 'started':
            epochsCompleted = message.started.history.length;
            enqueue(() => listeners.onStarted?.(message.started));
            break;
          case 'phase':
            enqueue(() => listeners.onPhase?.(message.phase));
            break;
          case 'batch':
            enqueue(() => listeners.onBatch?.(message));
            break;
          case 'epoch':
            epochsCompleted = message.metrics.epoch;
            enqueue(() =>
              listeners.onEpoch?.(
                message.metrics,
                message.numTensors,
                message.checkpoints,
                message.superseded,
              ),
            );
            break;
          case 'metric':
            listeners.onMetric?.(message.event);
            break;
          case 'decide': {
            const { epoch } = message;
            enqueue(async () => {
              let decision: EarlyStopDecision = { action: 'continue' };
              try {
                decision = (await listeners.onDecide?.(epoch)) ?? decision;
              } finally {
                send({ type: 'decision', epoch, ...decision });
              }
            });
            break;
          }
          case 'outcome':
            outcome = message.outcome;
            break;
          case 'preflight-result':
            // Only a preflight process sends it (see forkPreflight).
            break;
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (stopTimer !== undefined) clearTimeout(stopTimer);
        if (outcome === undefined && forcedStop !== undefined) {
          // Killed after the grace period: the stop it was asked for is the outcome.
          outcome =
            forcedStop.reason === 'shutdown'
              ? { kind: 'stopped', lastCheckpointEpoch: epochsCompleted }
              : {
                  kind: 'failed',
                  status: 'cancelled',
                  code: 'TRIAL_CANCELLED',
                  message: `cancelled: ${forcedStop.message}`,
                  retryable: false,
                  epochsCompleted,
                };
        }
        void chain.then(() => {
          if (listenerError !== undefined) reject(listenerError);
          else if (outcome !== undefined) resolve(outcome);
          else {
            reject(
              new WorkerError(
                'TRIAL_PROCESS_CRASHED',
                `the trial process exited without a result (code ${code ?? 'none'}, signal ${signal ?? 'none'})`,
              ),
            );
          }
        });
      });
    });
    const send = (message: ParentMessage): void => {
      if (child.connected) child.send(message);
    };
    send({ type: 'start', request });
    return {
      outcome: done,
      stop,
      kill: () => {
        child.kill('SIGKILL');
      },
      pid: child.pid,
    };
  };
}
