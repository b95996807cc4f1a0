import { type TrialSummary } from '@setrain/protocol';
import { memo } from 'preact/compat';
import { useMemo, useState } from 'preact/hooks';

import { num, param, statusClass } from '../format.js';
import { href } from '../router.js';

/** Rows are this tall (styles.css) so only the visible ones need to be in the DOM. */
const ROW_HEIGHT = 30;
const VIEW_HEIGHT = 480;
/** Rows rendered above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 10;

type SortKey =
  | 'number'
  | 'status'
  | 'epoch'
  | 'loss'
  | 'val_loss'
  | 'val_accuracy'
  | 'objective'
  | `p:${string}`;

function sortValue(t: TrialSummary, key: SortKey): number | string {
  switch (key) {
    case 'number':
      return t.trialNumber;
    case 'status':
      return t.status;
    case 'epoch':
      return t.epochsCompleted;
    case 'loss':
    case 'val_loss':
    case 'val_accuracy':
      return t.latest?.[key] ?? Number.NaN;
    case 'objective':
      return t.objectiveValue ?? Number.NaN;
    default:
      return t.params[key.slice(2)] ?? '';
  }
}

function compare(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') {
    // Missing values (NaN) sort last whatever the direction.
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
    if (Number.isNaN(b)) return -1;
    return a - b;
  }
  return String(a).localeCompare(String(b));
}

interface RowProps {
  trial: TrialSummary;
  paramNames: readonly string[];
  best: boolean;
  index: number;
}

/** One row; memoised on the trial object, which the state replaces only when the trial changed. */
const Row = memo(function Row({ trial: t, paramNames, best, index }: RowProps) {
  return (
    <tr class={best ? 'best' : undefined} data-trial={t.trialId} aria-rowindex={index + 2}>
      <td>
        <a href={href.trial(t.trialId)}>#{t.trialNumber}</a>
        {best && (
          <span class="best-mark" title="best trial" aria-label="best trial">
            {' '}
            ★
          </span>
        )}
      </td>
      <td>
        <span class={statusClass(t.status)}>{t.status}</span>
        {t.reason !== undefined && (
          <span class="muted reason" title={t.reason}>
            {' '}
            {t.reason}
          </span>
        )}
      </td>
      {paramNames.map((p) => (
        <td class="num">{param(t.params[p])}</td>
      ))}
      <td class="num">{t.epochsCompleted}</td>
      <td class="num">{num(t.latest?.loss)}</td>
      <td class="num">{num(t.latest?.val_loss)}</td>
      <td class="num">{num(t.latest?.val_accuracy)}</td>
      <td class="num">{num(t.objectiveValue)}</td>
    </tr>
  );
});

/** The live trial table: sortable by any column, filterable by status and text. */
export function TrialTable(props: {
  trials: readonly TrialSummary[];
  paramNames: readonly string[];
  bestId: string | undefined;
}) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'number', desc: false });
  const [status, setStatus] = useState('all');
  const [text, setText] = useState('');
  const [scrollTop, setScrollTop] = useState(0);
  const statuses = useMemo(
    () => [...new Set(props.trials.map((t) => t.status))].sort(),
    [props.trials],
  );
  const rows = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const shown = props.trials.filter(
      (t) =>
        (status === 'all' || t.status === status) &&
        (needle === '' ||
          `#${t.trialNumber} ${t.reason ?? ''} ${Object.values(t.params).join(' ')}`
            .toLowerCase()
            .includes(needle)),
    );
    const sign = sort.desc ? -1 : 1;
    return shown.sort((a, b) => sign * compare(sortValue(a, sort.key), sortValue(b, sort.key)));
  }, [props.trials, sort, status, text]);

  // Only the rows in view (and a few around) are rendered.
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + VIEW_HEIGHT) / ROW_HEIGHT) + OVERSCAN);

  const header = (key: SortKey, label: string) => (
    <th
      scope="col"
      aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
    >
      <button
        type="button"
        class="sort"
        onClick={() => {
          setSort({ key, desc: sort.key === key ? !sort.desc : false });
        }}
      >
        {label}
        {sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );

  return (
    <div>
      <div class="toolbar">
        <label>
          Status{' '}
          <select
            aria-label="Filter trials by status"
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
        <label>
          Filter{' '}
          <input
            type="search"
            aria-label="Filter trials by text"
            placeholder="parameter value, reason…"
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value);
            }}
          />
        </label>
        <span class="muted" aria-live="polite">
          {rows.length} of {props.trials.length} trials
        </span>
      </div>
      <div
        class="table-scroll"
        tabIndex={0}
        aria-label="Trials, scrollable"
        onScroll={(e) => {
          setScrollTop(e.currentTarget.scrollTop);
        }}
      >
        <table class="grid" aria-label="Trials" id="trial-table" aria-rowcount={rows.length + 1}>
          <thead>
            <tr>
              {header('number', 'Trial')}
              {header('status', 'Status')}
              {props.paramNames.map((p) => header(`p:${p}`, p))}
              {header('epoch', 'Epoch')}
              {header('loss', 'loss')}
              {header('val_loss', 'val_loss')}
              {header('val_accuracy', 'val_acc')}
              {header('objective', 'Objective')}
            </tr>
          </thead>
          <tbody>
            {first > 0 && <tr aria-hidden="true" style={{ height: `${first * ROW_HEIGHT}px` }} />}
            {rows.slice(first, last).map((t, i) => (
              <Row
                key={t.trialId}
                trial={t}
                paramNames={props.paramNames}
                best={t.trialId === props.bestId}
                index={first + i}
              />
            ))}
            {last < rows.length && (
              <tr aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}
