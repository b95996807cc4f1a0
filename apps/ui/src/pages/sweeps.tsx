import { type SweepSummary } from '@setrain/protocol';
import { useEffect, useState } from 'preact/hooks';

import { api } from '../api/client.js';
import { ErrorNote } from '../components/error-note.js';
import { age, num, statusClass } from '../format.js';
import { href } from '../router.js';
import { GridHead } from '../components/grid-head.js';

/** How often the list refreshes (one request; the sweep page itself is live over SSE). */
const REFRESH_MS = 5000;

/** The sweeps list: status, counts, best, age, submitter (its key's name); filterable by status. */
export function SweepsPage() {
  const [sweeps, setSweeps] = useState<SweepSummary[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('all');
  useEffect(() => {
    let stopped = false;
    const load = (): void => {
      api
        .listSweeps()
        .then((r) => {
          if (stopped) return;
          setSweeps(r.sweeps);
          setError(undefined);
        })
        .catch((e: unknown) => {
          if (!stopped) setError(e);
        });
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  const statuses = [...new Set((sweeps ?? []).map((s) => s.status))].sort();
  const shown = (sweeps ?? []).filter((s) => status === 'all' || s.status === status);
  return (
    <section aria-labelledby="sweeps-title">
      <h1 id="sweeps-title">Sweeps</h1>
      <ErrorNote error={error} />
      <div class="toolbar">
        <label>
          Status{' '}
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
            }}
          >
            <option value="all">all</option>
            {statuses.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      {sweeps === undefined ? (
        <p>Loading…</p>
      ) : (
        <table class="grid" aria-label="Sweeps">
          <GridHead
            columns={[
              'Sweep',
              'Status',
              'Trials (done / planned)',
              'Running',
              'Failed',
              'Best',
              'Age',
              'Submitter',
            ]}
          />
          <tbody>
            {shown.map((s) => {
              const done =
                s.counts.completed +
                s.counts['early-stopped'] +
                s.counts.failed +
                s.counts.diverged;
              return (
                <tr key={s.id}>
                  <td>
                    <a href={href.sweep(s.id)}>{s.name ?? s.id}</a>
                    {s.name !== undefined && <div class="muted">{s.id}</div>}
                  </td>
                  <td>
                    <span class={statusClass(s.status)}>{s.status}</span>
                    {s.reason !== undefined && <div class="muted">{s.reason}</div>}
                  </td>
                  <td>
                    {done} / {s.plannedTrials}
                  </td>
                  <td>{s.counts.running}</td>
                  <td>{s.counts.failed + s.counts.diverged}</td>
                  <td>
                    {s.best
                      ? `${s.objective.metric} ${num(s.best.objectiveValue)} (#${s.best.trialId.split('.').pop()})`
                      : '—'}
                  </td>
                  <td>{age(s.createdAt)}</td>
                  <td>{s.submitter ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {sweeps !== undefined && shown.length === 0 && (
        <p>No sweeps{status !== 'all' ? ` ${status}` : ''}.</p>
      )}
    </section>
  );
}
