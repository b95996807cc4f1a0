import { type TrialSummary } from '@setrain/protocol';
import { memo } from 'preact/compat';
import { useMemo } from 'preact/hooks';

import { num, param } from '../format.js';

const WIDTH = 760;
const HEIGHT = 280;
const PAD = { top: 30, bottom: 30, left: 80, right: 80 };

interface Axis {
  name: string;
  /** Maps a value to 0 (bottom) .. 1 (top); undefined when the trial has no value. */
  scale: (value: number | string | undefined) => number | undefined;
  ticks: { at: number; label: string }[];
}

function axisOf(name: string, values: readonly (number | string | undefined)[]): Axis {
  const present = values.filter((v) => v !== undefined);
  if (present.every((v) => typeof v === 'number')) {
    const min = Math.min(...present);
    const max = Math.max(...present);
    // Spans of more than two decades (learning rates) read better on a log axis.
    const log = min > 0 && max / min > 100;
    const f = (v: number) => (log ? Math.log10(v) : v);
    const span = f(max) - f(min) || 1;
    const scale = (v: number | string | undefined) =>
      typeof v === 'number' ? (f(v) - f(min)) / span : undefined;
    return {
      name,
      scale,
      ticks: [
        { at: 0, label: num(min, 3) },
        { at: 1, label: num(max, 3) },
      ],
    };
  }
  const categories = [...new Set(present.map(String))].sort();
  const at = (v: string) =>
    categories.length === 1 ? 0.5 : categories.indexOf(v) / (categories.length - 1);
  return {
    name,
    scale: (v) => (v === undefined ? undefined : at(String(v))),
    ticks: categories.map((c) => ({ at: at(c), label: c })),
  };
}

/** A colour from blue (worse) to orange (better) for a 0..1 rank. */
function colour(goodness: number): string {
  const hue = 220 - 190 * goodness;
  return `hsla(${hue.toFixed(0)}, 70%, 45%, 0.55)`;
}

/** Parameters to objective: one line per trial with an objective value, better lines warmer.
 * Memoised: it redraws only when its trials (those with an objective) or the best change. */
export const ParallelCoordinates = memo(function ParallelCoordinates(props: {
  trials: readonly TrialSummary[];
  paramNames: readonly string[];
  objectiveLabel: string;
  maximize: boolean;
  bestId: string | undefined;
}) {
  const drawn = useMemo(() => {
    const scored = props.trials.filter((t) => t.objectiveValue !== null);
    const names = [...props.paramNames, props.objectiveLabel];
    const valueOf = (t: TrialSummary, name: string) =>
      name === props.objectiveLabel && !props.paramNames.includes(name)
        ? (t.objectiveValue ?? undefined)
        : t.params[name];
    const axes = names.map((n) =>
      axisOf(
        n,
        scored.map((t) => valueOf(t, n)),
      ),
    );
    const objective = axes[axes.length - 1]!;
    const x = (i: number) =>
      PAD.left + (i * (WIDTH - PAD.left - PAD.right)) / Math.max(1, axes.length - 1);
    const y = (v: number) => PAD.top + (1 - v) * (HEIGHT - PAD.top - PAD.bottom);
    const lines = scored.map((t) => {
      const points = axes.map((a, i) => {
        const v = a.scale(valueOf(t, a.name));
        return v === undefined ? undefined : `${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      });
      const rank = objective.scale(t.objectiveValue ?? undefined) ?? 0;
      return {
        id: t.trialId,
        d: points.filter((p) => p !== undefined).join(' '),
        stroke: colour(props.maximize ? rank : 1 - rank),
      };
    });
    return { axes, x, y, lines, count: scored.length };
  }, [props.trials, props.paramNames, props.objectiveLabel, props.maximize]);

  if (drawn.count === 0) {
    return <p class="muted">Parallel coordinates appear once trials have an objective value.</p>;
  }
  const best = drawn.lines.find((l) => l.id === props.bestId);
  return (
    <figure class="chart">
      <figcaption>
        Parallel coordinates: parameters to {props.objectiveLabel} ({drawn.count} trials with an
        objective value; warmer is better, best in black)
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Parallel coordinates of ${drawn.count} trials`}
        class="parcoords"
      >
        {drawn.lines.map((l) => (
          <polyline key={l.id} points={l.d} fill="none" stroke={l.stroke} stroke-width="1" />
        ))}
        {best && <polyline points={best.d} fill="none" stroke="#000" stroke-width="2.5" />}
        {drawn.axes.map((a, i) => (
          <g key={a.name}>
            <line x1={drawn.x(i)} x2={drawn.x(i)} y1={drawn.y(0)} y2={drawn.y(1)} stroke="#333" />
            <text x={drawn.x(i)} y={PAD.top - 12} text-anchor="middle" class="axis-name">
              {a.name}
            </text>
            {a.ticks.map((t) => (
              <text x={drawn.x(i) + 4} y={drawn.y(t.at) + 4} class="tick">
                {param(t.label)}
              </text>
            ))}
          </g>
        ))}
      </svg>
    </figure>
  );
});
