/**
 * Entry point of the trainer process the job holder forks per trial. It waits for a `start` message,
 * runs the trial, sends the outcome and exits (or, for a `preflight` message, checks the engine with
 * one tiny training step, answers and exits). If the worker process goes away (killed), the IPC channel
 * closes and this process exits at once: a trial must never keep training for a job nobody holds.
 */
import type { ChildMessage, EarlyStopDecision, ParentMessage, StopReason } from '../trial-ipc.js';
import { runPreflight } from './preflight.js';
import { runTrial } from './run-trial.js';

/** Exit code when the parent disappeared mid-trial. */
const EXIT_PARENT_GONE = 70;

let stop: { reason: StopReason; message: string } | undefined;
let running = false;
/** Epochs waiting for their early-stopping decision. */
const pendingDecisions = new Map<number, (decision: EarlyStopDecision) => void>();

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

process.on('disconnect', () => process.exit(EXIT_PARENT_GONE));

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stop') {
    // A cancel outranks a shutdown that is already pending: the user asked for the trial to end.
    if (stop === undefined || message.reason === 'cancel')
      stop = { reason: message.reason, message: message.message };
    // A trial waiting for a decision goes on to its next stop check, which ends it.
    for (const resolve of pendingDecisions.values()) resolve({ action: 'continue' });
    pendingDecisions.clear();
    return;
  }
  if (message.type === 'decision') {
    pendingDecisions.get(message.epoch)?.({
      action: message.action,
      ...(message.reason !== undefined ? { reason: message.reason } : {}),
    });
    pendingDecisions.delete(message.epoch);
    return;
  }
  if (message.type === 'preflight' && !running) {
    running = true;
    void runPreflight(message.request).then((result) => {
      if (!process.connected) process.exit(EXIT_PARENT_GONE);
      process.send?.({ type: 'preflight-result', result } satisfies ChildMessage, () =>
        process.exit(0),
      );
    });
    return;
  }
  if (message.type === 'start' && !running) {
    running = true;
    const decide = (epoch: number): Promise<EarlyStopDecision> =>
      new Promise((resolve) => {
        if (stop !== undefined) {
          resolve({ action: 'continue' });
          return;
        }
        pendingDecisions.set(epoch, resolve);
        send({ type: 'decide', epoch });
      });
    void runTrial(message.request, { send, stopRequested: () => stop, decide }).then((outcome) => {
      if (!process.connected) process.exit(EXIT_PARENT_GONE);
      process.send?.({ type: 'outcome', outcome } satisfies ChildMessage, () => process.exit(0));
    });
  }
});
