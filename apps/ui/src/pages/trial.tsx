import { type TrialDetail } from '@setrain/protocol';
import { useEffect, useMemo, useState } from 'preact/hooks';

import { api } from '../api/client.js';
import { watchSweep } from '../api/sse.js';
import { AttemptsTable } from '../components/attempts-table.js';
import { Curves } from '../components/curves.js';
import { ErrorNote } from '../components/error-note.js';
import { TrialArtifacts } from '../components/trial-artifacts.js';
import { num, param, statusClass } from '../format.js';
import { href } from '../router.js';
import { toSeriesMap } from '../trial-series.js';
import { GridHead } from '../components/grid-head.js';

/** A trial: status, attempts and worker, per-epoch metrics (table and curves), artifacts. */
export function TrialPage({ trialId }: { trialId: string }) {
  const [trial, setTrial] = useState<TrialDetail | undefined>();
  const [error, setError] = useState<unknown>();
  const sweepId = trial?.sweepId;
  useEffect(() => void api.trial(trialId).then(setTrial, setError), [trialId]);
  useEffect(() => {
    if (sweepId === undefined) return undefined;
    const load = (): void => void api.trial(trialId).then(setTrial, setError);
    // The sweep's stream says when this trial changed; only then is the trial fetched again.
    return watchSweep(sweepId, {
      onEvent: (event) => {
        if (event.type === 'update' && event.trials.some((t) => t.trialId === trialId)) load();
      },
      onState: () => undefined,
      onError: setError,
    });
  }, [trialId, sweepId]);
  const epochs = useMemo(() => (trial ? toSeriesMap(trial) : new Map()), [trial]);
  if (trial === undefined) {
    return (
      <section>
        <h1>Trial {trialId}</h1>
        <ErrorNote error={error} />
      </section>
    );
  }
  return (
    <section aria-labelledby="trial-title">
      <h1 id="trial-title">
        Trial {trial.trialId} <span class={statusClass(trial.status)}>{trial.status}</span>
      </h1>
      <p>
        <a href={href.sweep(trial.sweepId)}>← sweep {trial.sweepId}</a>
      </p>
      <ErrorNote error={error} />
      <div class="cards">
        <section class="card" aria-labelledby="status-title">
          <h2 id="status-title">Status</h2>
          <dl class="pairs">
            <dt>status</dt>
            <dd>{trial.status}</dd>
            <dt>reason</dt>
            <dd>{trial.reason ?? '—'}</dd>
            <dt>attempts</dt>
            <dd>{trial.attempts}</dd>
            <dt>worker (latest attempt)</dt>
            <dd>{trial.workerId ?? '—'}</dd>
            <dt>queued</dt>
            <dd>{trial.queuedAt ?? '—'}</dd>
            <dt>started</dt>
            <dd>{trial.startedAt ?? '—'}</dd>
            <dt>finished</dt>
            <dd>{trial.finishedAt ?? '—'}</dd>
            <dt>objective</dt>
            <dd>{num(trial.objectiveValue)}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="params-title">
          <h2 id="params-title">Parameters</h2>
          <dl class="pairs">
            {Object.entries(trial.params).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{param(v)}</dd>
              </>
            ))}
          </dl>
        </section>
      </div>
      <h2 id="attempts-title">Attempts</h2>
      <AttemptsTable attempts={trial.attemptsLog} />
      <h2>Curves</h2>
      <div class="charts">
        {['loss', 'val_loss', 'accuracy', 'val_accuracy'].map((metric) => (
          <Curves
            key={metric}
            metric={metric}
            label={metric}
            trials={[trial]}
            epochs={epochs}
            bestId={undefined}
            version={trial.epochs.length}
          />
        ))}
      </div>
      <h2>Epochs</h2>
      <table class="grid" aria-label="Metrics per epoch" id="epoch-table">
        <GridHead
          columns={[
            'Epoch',
            'loss',
            'accuracy',
            'val_loss',
            'val_accuracy',
            'val_auc',
            'seconds',
            'images/s',
            'checkpoint',
          ]}
        />
        <tbody>
          {trial.epochs.map((e) => (
            <tr key={e.epoch}>
              <td>{e.epoch}</td>
              <td class="num">{num(e.loss)}</td>
              <td class="num">{num(e.accuracy)}</td>
              <td class="num">{num(e.val_loss)}</td>
              <td class="num">{num(e.val_accuracy)}</td>
              <td class="num">{num(e.val_auc)}</td>
              <td class="num">{num(e.durationMs / 1000, 1)}</td>
              <td class="num">{num(e.imagesPerSec, 1)}</td>
              <td>
                <code>{e.checkpoint ?? '—'}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Artifacts</h2>
      <TrialArtifacts
        trialId={trial.trialId}
        version={`${trial.status}:${trial.epochsCompleted}:${trial.trialJson ?? ''}`}
      />
    </section>
  );
}
