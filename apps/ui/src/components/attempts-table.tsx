import { type AttemptLogEntry } from '@setrain/protocol';

import { statusClass } from '../format.js';
import { GridHead } from './grid-head.js';

/** Every attempt at a trial, oldest first: its worker, when, how it ended and why. */
export function AttemptsTable({ attempts }: { attempts: readonly AttemptLogEntry[] }) {
  if (attempts.length === 0) return <p class="muted">No attempt has started yet.</p>;
  return (
    <table class="grid" aria-label="Attempts" id="attempts-table">
      <GridHead columns={['Attempt', 'Worker', 'Started', 'Ended', 'Outcome', 'Reason']} />
      <tbody>
        {attempts.map((a, index) => (
          <tr key={index} data-attempt={a.attempt}>
            <td class="num">{a.attempt}</td>
            <td>
              <code>{a.workerId}</code>
            </td>
            <td>{a.startedAt}</td>
            <td>{a.endedAt ?? '—'}</td>
            <td>
              <span class={statusClass(a.outcome ?? 'running')}>{a.outcome ?? 'running'}</span>
            </td>
            <td>{a.reason ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
