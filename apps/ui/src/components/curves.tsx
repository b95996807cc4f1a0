import { type EpochSeries, type TrialSummary } from '@setrain/protocol';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

import { STOPPED_SHORT } from '../format.js';
import { metricSeries } from '../sweep-state.js';

const HEIGHT = 260;
const BEST_COLOUR = '#d94800';
const STATUS_COLOURS: Readonly<Record<string, string>> = {
  running: 'rgba(30, 100, 200, 0.5)',
  completed: 'rgba(40, 120, 60, 0.45)',
  'early-stopped': 'rgba(120, 90, 20, 0.45)',
};
const OTHER_COLOUR = 'rgba(90, 90, 90, 0.4)';

interface CurveProps {
  /** Metric of the y axis (`val_loss`, `loss`, ...). */
  metric: string;
  label: string;
  trials: readonly TrialSummary[];
  epochs: ReadonlyMap<string, EpochSeries>;
  bestId: string | undefined;
  /** Changes whenever trials or epochs changed. */
  version: number;
}

/** What the draw hook draws: each trial's values by epoch (index 0 = epoch 1). */
interface Lines {
  trials: readonly TrialSummary[];
  values: Map<string, (number | null)[]>;
  bestId: string | undefined;
}

/**
 * uPlot data: epochs, and the lowest and highest value of any trial at each epoch. uPlot scales and
 * draws axes from this envelope; the trials' lines are drawn by the draw hook (below), batched by
 * colour, because 1,000 uPlot series (one canvas state and stroke each) are far slower.
 */
function envelope(props: CurveProps): { data: uPlot.AlignedData; lines: Lines } {
  const values = new Map<string, (number | null)[]>();
  let maxEpoch = 1;
  for (const t of props.trials) {
    const s = props.epochs.get(t.trialId);
    const raw = metricSeries(s, props.metric);
    const from = s?.from ?? 1;
    // The stream's series start at epoch 1, so this copy is rare.
    const byEpoch = from === 1 ? raw : [...Array<null>(from - 1).fill(null), ...raw];
    values.set(t.trialId, byEpoch);
    maxEpoch = Math.max(maxEpoch, byEpoch.length);
  }
  const x = Array.from({ length: maxEpoch }, (_, i) => i + 1);
  const low = new Array<number>(maxEpoch).fill(Infinity);
  const high = new Array<number>(maxEpoch).fill(-Infinity);
  for (const byEpoch of values.values()) {
    for (let i = 0; i < byEpoch.length; i++) {
      const v = byEpoch[i];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      if (v < low[i]!) low[i] = v;
      if (v > high[i]!) high[i] = v;
    }
  }
  const orNull = (v: number) => (Number.isFinite(v) ? v : null);
  return {
    data: [x, low.map(orNull), high.map(orNull)],
    lines: { trials: props.trials, values, bestId: props.bestId },
  };
}

/** Canvas pixel of a data point: uPlot's linear scales, computed once per draw. */
interface Projection {
  x: (v: number) => number;
  y: (v: number) => number;
}

function projection(u: uPlot): Projection {
  const linear = (key: string, from: number, size: number, flip: boolean) => {
    const { min = 0, max = 1 } = u.scales[key] ?? {};
    const k = size / (max - min || 1);
    return flip ? (v: number) => from + size - (v - min) * k : (v: number) => from + (v - min) * k;
  };
  return {
    x: linear('x', u.bbox.left, u.bbox.width, false),
    y: linear('y', u.bbox.top, u.bbox.height, true),
  };
}

function traceLine(p: Projection, path: Path2D, values: readonly (number | null)[]): void {
  let pen = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      pen = false;
      continue;
    }
    if (pen) path.lineTo(p.x(i + 1), p.y(v));
    else path.moveTo(p.x(i + 1), p.y(v));
    pen = true;
  }
}

function lastPoint(values: readonly (number | null)[]): [number, number] | undefined {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) return [i + 1, v];
  }
  return undefined;
}

/** Every trial's line (one path and stroke per colour), the best on top, and where trials stopped
 * short: ■ early-stopped, ✕ failed or diverged, ○ cancelled. */
function drawLines(lines: { current: Lines }) {
  return (u: uPlot): void => {
    const { trials, values, bestId } = lines.current;
    const ctx = u.ctx;
    const dpr = devicePixelRatio;
    const p = projection(u);
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    const groups = new Map<string, Path2D>();
    for (const t of trials) {
      if (t.trialId === bestId) continue;
      const colour = STATUS_COLOURS[t.status] ?? OTHER_COLOUR;
      let path = groups.get(colour);
      if (path === undefined) groups.set(colour, (path = new Path2D()));
      traceLine(p, path, values.get(t.trialId) ?? []);
    }
    ctx.lineWidth = dpr;
    for (const [colour, path] of groups) {
      ctx.strokeStyle = colour;
      ctx.stroke(path);
    }
    if (bestId !== undefined) {
      const best = new Path2D();
      traceLine(p, best, values.get(bestId) ?? []);
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = BEST_COLOUR;
      ctx.stroke(best);
    }
    ctx.lineWidth = 2 * dpr;
    const r = 4 * dpr;
    for (const t of trials) {
      const point = lastPoint(values.get(t.trialId) ?? []);
      if (point === undefined) continue;
      if (!STOPPED_SHORT.has(t.status)) {
        // A dot at each trial's latest epoch (a trial with one epoch has no line yet).
        ctx.fillStyle =
          t.trialId === bestId ? BEST_COLOUR : (STATUS_COLOURS[t.status] ?? OTHER_COLOUR);
        ctx.fillRect(p.x(point[0]) - dpr, p.y(point[1]) - dpr, 3 * dpr, 3 * dpr);
        continue;
      }
      const cx = p.x(point[0]);
      const cy = p.y(point[1]);
      ctx.strokeStyle = ctx.fillStyle = t.status === 'early-stopped' ? '#7a5a00' : '#b00020';
      ctx.beginPath();
      if (t.status === 'early-stopped') ctx.fillRect(cx - r, cy - r, 2 * r, 2 * r);
      else if (t.status === 'cancelled') ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      else {
        ctx.moveTo(cx - r, cy - r);
        ctx.lineTo(cx + r, cy + r);
        ctx.moveTo(cx + r, cy - r);
        ctx.lineTo(cx - r, cy + r);
      }
      ctx.stroke();
    }
    ctx.restore();
  };
}

/** Every trial's curve of one metric per epoch, overlaid on one uPlot canvas. */
export function Curves(props: CurveProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const lines = useRef<Lines>({ trials: [], values: new Map(), bestId: undefined });

  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const { data, lines: next } = envelope(props);
    lines.current = next;
    if (plot.current !== undefined) {
      plot.current.setData(data);
      return;
    }
    const invisible = { stroke: 'transparent', points: { show: false } };
    const options: uPlot.Options = {
      width: Math.max(300, element.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      // Epochs are whole numbers from 1.
      scales: { x: { time: false, range: (_u, _min, max) => [1, Math.max(2, max)] } },
      axes: [
        { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
        { label: props.label },
      ],
      series: [{}, { label: 'lowest', ...invisible }, { label: 'highest', ...invisible }],
      hooks: { draw: [drawLines(lines)] },
    };
    plot.current = new uPlot(options, data, element);
  }, [props.version, props.bestId, props.metric]);

  useEffect(() => () => plot.current?.destroy(), []);
  let points = 0;
  for (const t of props.trials)
    points += metricSeries(props.epochs.get(t.trialId), props.metric).length;

  return (
    <figure class="chart">
      <figcaption>
        {props.label} per epoch, every trial{' '}
        <span class="muted">
          (best: thick orange; ■ early-stopped, ✕ failed or diverged, ○ cancelled where they
          stopped)
        </span>
      </figcaption>
      <div
        ref={host}
        role="img"
        aria-label={`${props.label} per epoch of ${props.trials.length} trials`}
        data-metric={props.metric}
        data-points={points}
      />
    </figure>
  );
}
