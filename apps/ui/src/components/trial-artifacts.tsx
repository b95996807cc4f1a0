import { type TrialArtifactsResponse } from '@setrain/protocol';
import { useEffect, useState } from 'preact/hooks';

import { api, saveBlob } from '../api/client.js';
import { bytes, fileKind } from '../format.js';
import { ErrorNote } from './error-note.js';
import { GridHead } from './grid-head.js';

const GROUP_LABELS: Readonly<Record<string, string>> = {
  record: 'record',
  best: 'best epoch',
  final: 'last epoch',
  checkpoint: 'checkpoint',
};

/**
 * A trial's files (trial.json, best/, final/, checkpoints) with sha256: each name is a presigned
 * link; "via API" streams it through the API, which checks it against its sha256 on the way.
 * Fetched again when `version` changes (an epoch or the trial ended, so files may have landed).
 */
export function TrialArtifacts(props: { trialId: string; version: string }) {
  const [listing, setListing] = useState<TrialArtifactsResponse | undefined>();
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string | undefined>();
  useEffect(() => {
    api.trialArtifacts(props.trialId).then((r) => {
      setListing(r);
      setError(undefined);
    }, setError);
  }, [props.trialId, props.version]);
  useEffect(
    () => () => {
      if (saved) URL.revokeObjectURL(saved);
    },
    [saved],
  );
  if (listing === undefined) return <ErrorNote error={error} />;
  return (
    <>
      <ErrorNote error={error} />
      {listing.notes.map((note) => (
        <p class="muted" key={note}>
          {note}
        </p>
      ))}
      {listing.artifacts.length > 0 && (
        <table class="grid artifacts" aria-label="Trial artifacts" id="trial-artifacts">
          <GridHead
            columns={['File', 'Set', 'Epoch', 'Kind', 'Size', 'sha256', 'Through the API']}
          />
          <tbody>
            {listing.artifacts.map((a) => (
              <tr key={a.path} data-group={a.group}>
                <td>
                  <a
                    href={a.url}
                    download
                    data-sha256={a.sha256}
                    data-path={a.path}
                    data-bytes={a.bytes}
                  >
                    {a.path}
                  </a>
                </td>
                <td>{GROUP_LABELS[a.group] ?? a.group}</td>
                <td class="num">{a.epoch ?? '—'}</td>
                <td>{a.group === 'record' ? 'record' : fileKind(a.path)}</td>
                <td class="num">{bytes(a.bytes)}</td>
                <td>
                  <code class="sha">{a.sha256}</code>
                </td>
                <td>
                  <button
                    type="button"
                    aria-label={`download ${a.path} through the API`}
                    onClick={() =>
                      void api.downloadTrialFile(listing.trialId, a.path).then((blob) => {
                        setSaved(
                          saveBlob(blob, `${listing.trialId}_${a.path.replaceAll('/', '_')}`),
                        );
                      }, setError)
                    }
                  >
                    via API
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="muted">Links are presigned and expire in {listing.urlExpiresInSeconds} s.</p>
    </>
  );
}
