import { type SweepDetail } from '@setrain/protocol';
import { useEffect, useMemo, useState } from 'preact/hooks';

import { api } from '../api/client.js';
import { watchSweep, type StreamState } from '../api/sse.js';
import { BestCard } from '../components/best-card.js';
import { Curves } from '../components/curves.js';
import { ErrorNote } from '../components/error-note.js';
import { ImportancePanel } from '../components/importance-panel.js';
import { ParallelCoordinates } from '../components/parallel-coordinates.js';
import { ParetoFrontPanel } from '../components/pareto-front-panel.js';
import { SweepControls } from '../components/sweep-controls.js';
import { TrialTable } from '../components/trial-table.js';
import { age, statusClass } from '../format.js';
import { markEvent } from '../perf-marks.js';
import { applySweepEvent, type SweepState } from '../sweep-state.js';

/**
 * A sweep, live: header, controls, best trial (with several objectives, the Pareto front), trial
 * table, curves, parallel coordinates, importance.
 */
export function SweepPage({ sweepId }: { sweepId: string }) {
  const [detail, setDetail] = useState<SweepDetail | undefined>();
  const [state, setState] = useState<SweepState | undefined>();
  const [stream, setStream] = useState<StreamState>('connecting');
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api.sweep(sweepId).then(setDetail, setError);
    return watchSweep(sweepId, {
      onEvent: (event) => {
        setState((s) => applySweepEvent(s, event));
        // Marks for the performance test (and anyone profiling): one per applied event.
        markEvent(`sweep-event-${event.type}`);
      },
      onState: setStream,
      onError: setError,
    });
  }, [sweepId]);

  const trials = useMemo(() => [...(state?.trials.values() ?? [])], [state?.version]);
  // Finished trials never change their objective: the charts built on them (parallel coordinates,
  // importance) recompute only when more trials have one, not on every epoch of a running trial.
  const scoredCount = trials.reduce((n, t) => n + (t.objectiveValue === null ? 0 : 1), 0);
  const scored = useMemo(() => trials.filter((t) => t.objectiveValue !== null), [scoredCount]);
  const paramNames = useMemo(() => {
    const fromSpec = Object.keys(detail?.spec.search.parameters ?? {});
    return fromSpec.length > 0
      ? fromSpec
      : [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  }, [detail, trials.length]);

  if (state === undefined) {
    return (
      <section>
        <h1>Sweep {sweepId}</h1>
        <ErrorNote error={error} />
        {error === undefined && <p>Connecting…</p>}
      </section>
    );
  }
  const { sweep } = state;
  const bestId = sweep.best?.trialId;
  const objective = sweep.objective.metric;
  const objectives =
    sweep.objectives !== undefined && sweep.objectives.length >= 2 ? sweep.objectives : undefined;
  return (
    <section aria-labelledby="sweep-title" id="sweep-page" data-version={state.version}>
      <h1 id="sweep-title">
        {sweep.name ?? sweep.id} <span class={statusClass(sweep.status)}>{sweep.status}</span>
      </h1>
      <p class="muted">
        {sweep.id} · created {age(sweep.createdAt)} ago · {sweep.counts.total} of{' '}
        {sweep.plannedTrials} trials started · {sweep.counts.running} running ·{' '}
        {sweep.counts.completed} completed · {sweep.counts['early-stopped']} early-stopped ·{' '}
        {sweep.counts.failed + sweep.counts.diverged} failed ·{' '}
        {objectives === undefined
          ? `objective ${objective} (${sweep.objective.goal})`
          : `objectives ${objectives.map((o) => `${o.metric} (${o.goal})`).join(', ')}`}{' '}
        ·{' '}
        <span class={`stream stream-${stream}`} aria-live="polite" id="stream-state">
          {stream}
        </span>
      </p>
      {sweep.reason !== undefined && <p>Reason: {sweep.reason}</p>}
      <ErrorNote error={error} />
      <div class="cards">
        <SweepControls sweep={sweep} parallelism={detail?.spec.parallelism ?? 1} />
        {objectives === undefined && (
          <BestCard
            sweep={sweep}
            trial={bestId === undefined ? undefined : state.trials.get(bestId)}
          />
        )}
      </div>
      {objectives !== undefined && (
        <ParetoFrontPanel sweep={sweep} objectives={objectives} trials={scored} />
      )}
      <h2>Trials</h2>
      <TrialTable trials={trials} paramNames={paramNames} bestId={bestId} />
      <h2>Learning curves</h2>
      <div class="charts">
        <Curves
          metric={objective}
          label={objective}
          trials={trials}
          epochs={state.epochs}
          bestId={bestId}
          version={state.version}
        />
        {objective !== 'loss' && (
          <Curves
            metric="loss"
            label="loss"
            trials={trials}
            epochs={state.epochs}
            bestId={bestId}
            version={state.version}
          />
        )}
      </div>
      <ParallelCoordinates
        trials={scored}
        paramNames={paramNames}
        objectiveLabel={objective}
        maximize={sweep.objective.goal === 'maximize'}
        bestId={bestId}
      />
      <ImportancePanel trials={scored} />
    </section>
  );
}
