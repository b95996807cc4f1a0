import {
  type ObjectiveItem,
  type ParetoFrontResponse,
  type SweepSummary,
  type TrialSummary,
} from '@setrain/protocol';
import { useEffect, useMemo, useState } from 'preact/hooks';

import { api, ApiRequestError } from '../api/client.js';
import { num, param } from '../format.js';
import { axisScale, paretoPointsOf } from '../pareto-points.js';
import { href } from '../router.js';
import { ErrorNote } from './error-note.js';
import { GridHead } from './grid-head.js';

const WIDTH = 560;
const HEIGHT = 360;
const PAD = { top: 20, bottom: 46, left: 70, right: 20 };

const label = (o: ObjectiveItem) => `${o.metric} (${o.goal})`;

/** A select of the objective on one axis (shown when there are more than two objectives). */
function AxisSelect(props: {
  axis: 'x' | 'y';
  objectives: readonly ObjectiveItem[];
  value: number;
  onChange: (index: number) => void;
}) {
  return (
    <label>
      {props.axis === 'x' ? 'Horizontal' : 'Vertical'}{' '}
      <select
        aria-label={`Objective on the ${props.axis} axis`}
        id={`pareto-${props.axis}`}
        value={String(props.value)}
        onChange={(e) => {
          props.onChange(Number(e.currentTarget.value));
        }}
      >
        {props.objectives.map((o, i) => (
          <option value={String(i)}>{label(o)}</option>
        ))}
      </select>
    </label>
  );
}

/** Every finished trial on two objectives, the front's trials highlighted (orange, larger). */
function ParetoScatter(props: {
  objectives: readonly ObjectiveItem[];
  trials: readonly TrialSummary[];
  front: ReadonlySet<number>;
  x: number;
  y: number;
}) {
  const points = useMemo(
    () => paretoPointsOf(props.objectives, props.trials),
    [props.objectives, props.trials],
  );
  if (points.length === 0) return <p class="muted">No finished trial with every objective yet.</p>;
  const sx = axisScale(points, props.x);
  const sy = axisScale(points, props.y);
  // 5% inside each end, so points at the extremes stay clear of the axes.
  const inset = (at: number) => 0.05 + 0.9 * at;
  const px = (v: number) => PAD.left + inset(sx.at(v)) * (WIDTH - PAD.left - PAD.right);
  const py = (v: number) => HEIGHT - PAD.bottom - inset(sy.at(v)) * (HEIGHT - PAD.top - PAD.bottom);
  const [xo, yo] = [props.objectives[props.x], props.objectives[props.y]];
  // Front points last, so they are drawn over the others.
  const ordered = [...points].sort(
    (a, b) => Number(props.front.has(a.trialNumber)) - Number(props.front.has(b.trialNumber)),
  );
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`${points.length} trials on ${xo?.metric} and ${yo?.metric}, ${props.front.size} on the Pareto front`}
      class="parcoords pareto-scatter"
      id="pareto-scatter"
    >
      <line
        x1={PAD.left}
        x2={WIDTH - PAD.right}
        y1={HEIGHT - PAD.bottom}
        y2={HEIGHT - PAD.bottom}
        stroke="#333"
      />
      <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={HEIGHT - PAD.bottom} stroke="#333" />
      <text x={(WIDTH + PAD.left) / 2} y={HEIGHT - 8} text-anchor="middle" class="axis-name">
        {xo && label(xo)}
      </text>
      <text
        x={14}
        y={(HEIGHT - PAD.bottom) / 2}
        class="axis-name"
        transform={`rotate(-90 14 ${(HEIGHT - PAD.bottom) / 2})`}
        text-anchor="middle"
      >
        {yo && label(yo)}
      </text>
      <text x={PAD.left} y={HEIGHT - PAD.bottom + 16} class="tick">
        {num(sx.min, 3)}
      </text>
      <text x={WIDTH - PAD.right} y={HEIGHT - PAD.bottom + 16} class="tick" text-anchor="end">
        {num(sx.max, 3)}
      </text>
      <text x={PAD.left - 4} y={HEIGHT - PAD.bottom} class="tick" text-anchor="end">
        {num(sy.min, 3)}
      </text>
      <text x={PAD.left - 4} y={PAD.top + 8} class="tick" text-anchor="end">
        {num(sy.max, 3)}
      </text>
      {ordered.map((p) => {
        const onFront = props.front.has(p.trialNumber);
        const [vx, vy] = [p.values[props.x] ?? 0, p.values[props.y] ?? 0];
        return (
          <a key={p.trialId} href={href.trial(p.trialId)}>
            <circle
              cx={px(vx).toFixed(1)}
              cy={py(vy).toFixed(1)}
              r={onFront ? 6 : 4}
              class={onFront ? 'pareto-point on-front' : 'pareto-point'}
              data-trial={p.trialNumber}
            >
              <title>
                trial #{p.trialNumber}
                {onFront ? ' (Pareto front)' : ''}: {xo?.metric} {num(vx)}, {yo?.metric} {num(vy)}
              </title>
            </circle>
          </a>
        );
      })}
    </svg>
  );
}

/**
 * A multi-objective sweep's Pareto front (GET /best): its hypervolume and reference point, a
 * scatter of every finished trial on two objectives (selectable when there are more) with the
 * front highlighted, and a table of the front's trials with their objective values.
 */
export function ParetoFrontPanel(props: {
  sweep: SweepSummary;
  objectives: readonly ObjectiveItem[];
  trials: readonly TrialSummary[];
}) {
  const [front, setFront] = useState<ParetoFrontResponse | undefined>();
  const [error, setError] = useState<unknown>();
  const [x, setX] = useState(0);
  const [y, setY] = useState(1);
  // Fetched again when another trial ends: the front can only change then.
  const ended = props.sweep.counts.completed + props.sweep.counts['early-stopped'];
  useEffect(() => {
    api.front(props.sweep.id).then(
      (f) => {
        setFront(f);
        setError(undefined);
      },
      (e: unknown) => {
        // 409 NO_BEST_TRIAL: no finished trial with every objective yet (not an error to show).
        if (!(e instanceof ApiRequestError && e.code === 'NO_BEST_TRIAL')) setError(e);
      },
    );
  }, [props.sweep.id, ended, props.sweep.status]);
  const frontNumbers = useMemo(
    () => new Set(front?.front.map((t) => t.trialNumber) ?? []),
    [front],
  );
  const hv = front?.hypervolume;
  const paramNames = [...new Set(front?.front.flatMap((t) => Object.keys(t.params)) ?? [])].sort();
  return (
    <section class="card" aria-labelledby="pareto-title" id="pareto-panel">
      <h2 id="pareto-title">Pareto front</h2>
      <p>
        Objectives: {props.objectives.map(label).join(', ')}. There is no single best trial: the
        front holds every finished trial that no other beats in every objective.
      </p>
      <ErrorNote error={error} />
      {hv !== undefined && (
        <p id="pareto-hypervolume">
          Hypervolume <strong>{num(hv.value)}</strong> against reference point (
          {hv.referencePoint.map((r) => num(r)).join(', ')}){' '}
          {hv.referencePointFrom === 'spec'
            ? "from the spec's referencePoint"
            : 'inferred from the front (it moves as the front does)'}
        </p>
      )}
      {props.objectives.length > 2 && (
        <div class="toolbar">
          <AxisSelect axis="x" objectives={props.objectives} value={x} onChange={setX} />
          <AxisSelect axis="y" objectives={props.objectives} value={y} onChange={setY} />
        </div>
      )}
      <figure class="chart">
        <figcaption>Trials on two objectives; the Pareto front in orange</figcaption>
        <ParetoScatter
          objectives={props.objectives}
          trials={props.trials}
          front={frontNumbers}
          x={x}
          y={y}
        />
      </figure>
      {front !== undefined && (
        <table class="grid" aria-label="Pareto front trials" id="pareto-table">
          <GridHead columns={['Trial', ...props.objectives.map(label), ...paramNames]} />
          <tbody>
            {front.front.map((t) => (
              <tr key={t.trialId} data-trial={t.trialNumber}>
                <td>
                  <a href={href.trial(t.trialId)}>#{t.trialNumber}</a>
                </td>
                {t.values.map((v, i) => (
                  <td class="num" key={i}>
                    {num(v)}
                  </td>
                ))}
                {paramNames.map((n) => (
                  <td class="num" key={n}>
                    {param(t.params[n])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
