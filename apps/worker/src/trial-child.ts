/**
 * Entry point of the per-trial process the worker forks. It waits for a `start` message, runs the
 * trial, sends the outcome and exits. If the worker process goes away (killed), the IPC channel
 * closes and this process exits at once: a trial must never keep training for a job nobody holds.
 */
import type { ChildMessage, ParentMessage, StopReason } from './trial-ipc.js';
import { runTrial } from './train-trial.js';

/** Exit code when the parent disappeared mid-trial. */
const EXIT_PARENT_GONE = 70;

let stop: { reason: StopReason; message: string } | undefined;
let running = false;

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

process.on('disconnect', () => process.exit(EXIT_PARENT_GONE));

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stop') {
    // A cancel outranks a shutdown that is already pending: the user asked for the trial to end.
    if (stop === undefined || message.reason === 'cancel')
      stop = { reason: message.reason, message: message.message };
    return;
  }
  if (message.type === 'start' && !running) {
    running = true;
    void runTrial(message.request, { send, stopRequested: () => stop }).then((outcome) => {
      if (!process.connected) process.exit(EXIT_PARENT_GONE);
      process.send?.({ type: 'outcome', outcome } satisfies ChildMessage, () => process.exit(0));
    });
  }
});
