import {
  type ArtifactEpoch,
  type BestTrialResponse,
  type SweepSummary,
  type TrialSummary,
} from '@setrain/protocol';
import { useEffect, useState } from 'preact/hooks';

import { api, ApiRequestError, saveBlob } from '../api/client.js';
import { bytes, fileKind, num, param } from '../format.js';
import { href } from '../router.js';
import { ErrorNote } from './error-note.js';
import { GridHead } from './grid-head.js';

/** The best trial: parameters, metrics, and its artifacts with sha256 and download links. */
export function BestCard(props: { sweep: SweepSummary; trial: TrialSummary | undefined }) {
  const bestId = props.sweep.best?.trialId;
  const [best, setBest] = useState<BestTrialResponse | undefined>();
  const [error, setError] = useState<unknown>();
  const [tarUrl, setTarUrl] = useState<string | undefined>();
  // Fetched again when the best changes or another trial ends (its files may land after the best
  // was chosen).
  const ended = props.sweep.counts.completed + props.sweep.counts['early-stopped'];
  const [weights, setWeights] = useState<ArtifactEpoch>('best');
  const [note, setNote] = useState('');
  useEffect(() => {
    // A new best starts again from its best epoch's weights.
    setWeights('best');
    setNote('');
  }, [bestId]);
  useEffect(() => {
    if (bestId === undefined) return;
    api.best(props.sweep.id, weights).then(
      (b) => {
        setBest(b);
        setError(undefined);
      },
      (e: unknown) => {
        // Trials recorded before best-epoch weights were kept have only the last epoch's.
        if (weights === 'best' && e instanceof ApiRequestError && e.code === 'ARTIFACT_NOT_FOUND') {
          setNote(`${e.message}. Showing the last epoch's weights.`);
          setWeights('last');
        } else setError(e);
      },
    );
  }, [bestId, ended, props.sweep.status, weights]);
  useEffect(
    () => () => {
      if (tarUrl) URL.revokeObjectURL(tarUrl);
    },
    [tarUrl],
  );
  if (props.sweep.best === null) {
    return (
      <section class="card" aria-labelledby="best-title">
        <h2 id="best-title">Best trial</h2>
        <p>No finished trial with an objective value yet.</p>
      </section>
    );
  }
  const summary = props.sweep.best;
  const latest = props.trial?.latest;
  return (
    <section class="card" aria-labelledby="best-title" id="best-card">
      <h2 id="best-title">
        Best trial <a href={href.trial(summary.trialId)}>{summary.trialId}</a>
      </h2>
      <p>
        {props.sweep.objective.metric} ({props.sweep.objective.goal}):{' '}
        <strong>{num(summary.objectiveValue)}</strong>
        {best?.bestEpoch !== undefined && best.bestEpoch !== null && ` at epoch ${best.bestEpoch}`}
      </p>
      <dl class="pairs">
        {Object.entries(summary.params).map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>{param(v)}</dd>
          </>
        ))}
        {latest && (
          <>
            <dt>last epoch</dt>
            <dd>
              loss {num(latest.loss)}, val_loss {num(latest.val_loss)}, val_accuracy{' '}
              {num(latest.val_accuracy)}
            </dd>
          </>
        )}
      </dl>
      <ErrorNote error={error} />
      {best && (
        <>
          <h3>Artifacts</h3>
          <fieldset class="row">
            <legend>Weights</legend>
            {(['best', 'last'] as const).map((w) => (
              <label key={w}>
                <input
                  type="radio"
                  name="weights"
                  value={w}
                  checked={weights === w}
                  onChange={() => {
                    setNote('');
                    setWeights(w);
                  }}
                />{' '}
                {w === 'best' ? 'best epoch' : 'last epoch'}
              </label>
            ))}
            <span class="muted">{best.epoch !== null ? `these hold epoch ${best.epoch}` : ''}</span>
          </fieldset>
          {note !== '' && <p class="muted">{note}</p>}
          <table class="grid artifacts" aria-label="Best trial artifacts">
            <GridHead columns={['File', 'Kind', 'Size', 'sha256']} />
            <tbody>
              {[best.trialJson, ...best.artifacts].map((a) => (
                <tr key={a.key}>
                  <td>
                    <a href={a.url} download data-sha256={a.sha256 ?? ''}>
                      {a.key.split('/').slice(-2).join('/')}
                    </a>
                  </td>
                  <td>{a.key.endsWith('trial.json') ? 'record' : fileKind(a.key)}</td>
                  <td class="num">{bytes(a.bytes)}</td>
                  <td>
                    <code class="sha">{a.sha256 ?? '—'}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">Links are presigned and expire in {best.urlExpiresInSeconds} s.</p>
          <button
            type="button"
            onClick={() =>
              void api.downloadBestTar(props.sweep.id, weights).then((blob) => {
                setTarUrl(saveBlob(blob, `${summary.trialId}.tar`));
              }, setError)
            }
          >
            Download everything (.tar)
          </button>
        </>
      )}
    </section>
  );
}
