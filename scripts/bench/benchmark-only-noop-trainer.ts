// BENCHMARK ONLY. A trial launcher that trains nothing: it reports the trial started and completed
// at once, so `npm run bench:queue` measures the queue, the controller and the worker's job
// handling and nothing else. It lives under scripts/ and is injected through startWorker's
// `processor.launcher`; no configuration of a real worker can reach it.
import {
  buildTrialRecord,
  type RunningTrial,
  type TrialLauncher,
  type TrialOutcome,
} from '@setrain/worker';

/**
 * A launcher whose trials complete immediately with an empty record (no epochs, no artifacts).
 * `onLaunch` learns which worker ran which trial.
 */
export function benchmarkOnlyNoopLauncher(
  onLaunch?: (trialId: string, workerId: string) => void,
): TrialLauncher {
  return (request, listeners) => {
    const { payload } = request;
    onLaunch?.(payload.trialId, request.workerId);
    const outcome = (async (): Promise<TrialOutcome> => {
      await listeners.onStarted?.({
        engine: 'benchmark-only-noop',
        engineDescription: 'trains nothing (bench:queue)',
        resumedFromEpoch: 0,
        history: [],
        numClasses: 1,
        multiLabel: false,
        trainImages: 0,
        validationImages: 0,
        manifestEtag: '',
        downloaded: 0,
        cached: 0,
        checkpoints: [],
        checkpointProblems: [],
      });
      const record = buildTrialRecord(payload, {
        status: 'completed',
        epochs: [],
        provenance: {
          dataset: payload.dataset,
          seed: payload.training.seed,
          packageVersion: 'benchmark-only',
          workerId: request.workerId,
        },
        startedAt: new Date().toISOString(),
      });
      return { kind: 'completed', record, trialJsonKey: 'benchmark-only/none', checkpoints: [] };
    })();
    const trial: RunningTrial = {
      outcome,
      stop: () => undefined,
      kill: () => undefined,
      pid: undefined,
    };
    return trial;
  };
}
