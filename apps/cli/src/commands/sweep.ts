import { readFile } from 'node:fs/promises';
import { text as readStreamText } from 'node:stream/consumers';

import {
  parseSpecText,
  parseSweepSpec,
  formatSpecIssue,
  SpecError,
  type ListSweepsResponse,
  type PreviewResponse,
  type SweepDetail,
  type SweepSpec,
  type TrialSummary,
} from '@setrain/protocol';

import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { CliError, EXIT_CODES } from '../errors.js';
import { renderPbtSchedules } from '../output/pbt-schedule.js';
import { formatNumber, renderTable, type Column } from '../output/table.js';

async function readSpecFile(ctx: CommandContext, path: string): Promise<string> {
  try {
    return path === '-' ? await readStreamText(ctx.in) : await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `spec file ${path} does not exist`
        : `cannot read spec file ${path}: ${(err as Error).message}`,
      EXIT_CODES.usage,
    );
  }
}

/** Reads a spec file and validates it locally (instant, offline); the text goes to the API as is. */
async function readValidSpec(ctx: CommandContext, specPath: string): Promise<string> {
  const text = await readSpecFile(ctx, specPath);
  try {
    parseSweepSpec(parseSpecText(text));
  } catch (err) {
    if (err instanceof SpecError) {
      throw new CliError(
        `spec ${specPath} is invalid: ${err.issues.length} problem${err.issues.length > 1 ? 's' : ''}`,
        EXIT_CODES.usage,
        err.issues.map(formatSpecIssue),
      );
    }
    throw err;
  }
  return text;
}

function specContentType(text: string): string {
  return text.trimStart().startsWith('{') ? 'application/json' : 'application/yaml';
}

/** `setrain sweep submit <spec>`: validates locally (instant, offline), then submits. */
export async function sweepSubmit(
  ctx: CommandContext,
  specPath: string,
  options: { watch?: boolean; interval: number; json?: boolean },
): Promise<void> {
  const text = await readValidSpec(ctx, specPath);
  const sweep = await ctx.api().postText<SweepDetail>('/v1/sweeps', text, specContentType(text));
  if (options.json && !options.watch) {
    writeJson(ctx, sweep);
    return;
  }
  ctx.out.write(
    `submitted sweep ${sweep.id}${sweep.name ? ` (${sweep.name})` : ''}: ${sweep.plannedTrials} trials planned\n`,
  );
  if (options.watch)
    await sweepStatus(ctx, sweep.id, {
      watch: true,
      interval: options.interval,
      json: options.json ?? false,
    });
  else ctx.out.write(`follow it with: setrain sweep status ${sweep.id} --watch\n`);
}

/** Renders a preview as a header line and a table: one row per trial, one column per parameter. */
export function renderPreview(preview: PreviewResponse): string {
  const entries = preview.configurations;
  const paramNames = [...new Set(entries.flatMap((e) => Object.keys(e.params)))];
  const columns: Column<PreviewResponse['configurations'][number]>[] = [
    { header: 'TRIAL', value: (e) => `#${e.trialNumber}`, alignRight: true },
    ...paramNames.map<Column<PreviewResponse['configurations'][number]>>((name) => ({
      header: name,
      value: (e) => {
        const v = e.params[name];
        return typeof v === 'number' ? formatNumber(v) : (v ?? '');
      },
      alignRight: true,
    })),
    {
      header: 'NOTE',
      value: (e) => (e.dependsOnResults ? 'adapts to results (random fallback shown)' : ''),
    },
  ];
  const header = `strategy ${preview.strategy}: ${preview.plannedTrials} trials planned; first ${entries.length}`;
  return `${header}\n${renderTable(columns, entries)}`;
}

/** `setrain sweep preview <spec> [-n N]`: the first N configurations; the API stores nothing. */
export async function sweepPreview(
  ctx: CommandContext,
  specPath: string,
  options: { count: number; json?: boolean },
): Promise<void> {
  const text = await readValidSpec(ctx, specPath);
  const preview = await ctx
    .api()
    .postText<PreviewResponse>(
      `/v1/sweeps/preview?n=${options.count}`,
      text,
      specContentType(text),
    );
  if (options.json) writeJson(ctx, preview);
  else ctx.out.write(`${renderPreview(preview)}\n`);
}

/** `setrain sweep list` */
export async function sweepList(
  ctx: CommandContext,
  options: { limit: number; json?: boolean },
): Promise<void> {
  const page = await ctx.api().getJson<ListSweepsResponse>(`/v1/sweeps?limit=${options.limit}`);
  if (options.json) {
    writeJson(ctx, page);
    return;
  }
  if (page.sweeps.length === 0) {
    ctx.out.write('no sweeps yet; submit one with: setrain sweep submit <spec.yaml>\n');
    return;
  }
  const table = renderTable(
    [
      { header: 'SWEEP', value: (s) => s.id },
      { header: 'NAME', value: (s) => s.name ?? '' },
      { header: 'STATUS', value: (s) => s.status },
      {
        header: 'TRIALS',
        value: (s) => `${s.counts.total - s.counts.queued - s.counts.running}/${s.plannedTrials}`,
        alignRight: true,
      },
      { header: 'RUNNING', value: (s) => String(s.counts.running), alignRight: true },
      {
        header: 'BEST',
        value: (s) =>
          s.best ? `${s.objective.metric}=${formatNumber(s.best.objectiveValue)}` : '-',
      },
      { header: 'CREATED', value: (s) => s.createdAt },
    ],
    page.sweeps,
  );
  ctx.out.write(
    `${table}\n${page.total > page.sweeps.length ? `(${page.sweeps.length} of ${page.total})\n` : ''}`,
  );
}

function statusText(trial: TrialSummary): string {
  return trial.reason ? `${trial.status}: ${trial.reason}` : trial.status;
}

/** Columns of the per-trial metrics a multi-objective sweep lists among its objectives. */
function trialMetricColumns(sweep: SweepDetail): Column<TrialSummary>[] {
  return (sweep.objectives ?? []).flatMap((o): Column<TrialSummary>[] => {
    const metric = o.metric;
    if (metric !== 'param_count' && metric !== 'latency_ms' && metric !== 'seconds_per_epoch') {
      return [];
    }
    return [
      {
        header: metric.toUpperCase(),
        value: (t) => formatNumber(t.trialMetrics?.[metric]),
        alignRight: true,
      },
    ];
  });
}

/** `; hypervolume V (reference point (r1, r2) from spec|front)`, once the API reports one. */
function hypervolumeText(sweep: SweepDetail): string {
  const hv = sweep.hypervolume;
  if (hv === undefined) return '';
  const reference = hv.referencePoint.map((r) => formatNumber(r)).join(', ');
  return `; hypervolume ${formatNumber(hv.value)} (reference point (${reference}) from ${hv.referencePointFrom})`;
}

/** The header's objective part: the best so far, or the objectives, the front's size and hypervolume. */
function objectiveText(sweep: SweepDetail): string {
  if (sweep.objectives !== undefined) {
    return (
      `objectives ${sweep.objectives.map((o) => `${o.goal} ${o.metric}`).join(', ')}; ` +
      `Pareto front ${sweep.front?.length ?? 0} trial(s), marked *` +
      hypervolumeText(sweep)
    );
  }
  return (
    `objective ${sweep.objective.goal} ${sweep.objective.metric}` +
    (sweep.best
      ? `, best ${formatNumber(sweep.best.objectiveValue)} (trial #${sweep.best.trialId.split('.').pop()})`
      : '')
  );
}

/**
 * Renders a sweep as a header line and a table of its trials, the best marked with `*` (with
 * several objectives, every trial of the Pareto front).
 */
export function renderSweep(sweep: SweepDetail): string {
  const paramNames = [...new Set(sweep.trials.flatMap((t) => Object.keys(t.params)))].sort();
  // The API returns the spec as a plain object (defaults filled in); only epochs is needed here.
  const epochs = (sweep.spec as Partial<SweepSpec>).training?.epochs ?? '?';
  const front = new Set(sweep.front ?? []);
  const marked = (t: TrialSummary): boolean =>
    sweep.best?.trialId === t.trialId || front.has(t.trialNumber);
  const columns: Column<TrialSummary>[] = [
    { header: '', value: (t) => (marked(t) ? '*' : '') },
    { header: 'TRIAL', value: (t) => `#${t.trialNumber}`, alignRight: true },
    ...paramNames.map<Column<TrialSummary>>((name) => ({
      header: name,
      value: (t) => {
        const v = t.params[name];
        return typeof v === 'number' ? formatNumber(v) : (v ?? '');
      },
      alignRight: true,
    })),
    { header: 'EPOCH', value: (t) => `${t.epochsCompleted}/${epochs}`, alignRight: true },
    { header: 'LOSS', value: (t) => formatNumber(t.latest?.loss), alignRight: true },
    { header: 'VAL_LOSS', value: (t) => formatNumber(t.latest?.val_loss), alignRight: true },
    { header: 'VAL_ACC', value: (t) => formatNumber(t.latest?.val_accuracy), alignRight: true },
    { header: 'OBJECTIVE', value: (t) => formatNumber(t.objectiveValue), alignRight: true },
    ...trialMetricColumns(sweep),
    { header: 'STATUS', value: statusText },
  ];
  const c = sweep.counts;
  const header =
    `sweep ${sweep.id}${sweep.name ? ` (${sweep.name})` : ''}: ${sweep.status}${sweep.reason ? ` (${sweep.reason})` : ''}; ` +
    `${c.completed + c['early-stopped']} done, ${c.running} running, ` +
    (c.stalled + c.requeued > 0 ? `${c.stalled + c.requeued} stalled/requeued, ` : '') +
    `${c.queued} queued, ` +
    `${c.failed + c.diverged} failed, ${c.cancelled} cancelled of ${sweep.plannedTrials} planned; ` +
    objectiveText(sweep);
  const trials = [...sweep.trials].sort((a, b) => a.trialNumber - b.trialNumber);
  const schedules = renderPbtSchedules(trials);
  return `${header}\n${renderTable(columns, trials)}${schedules ? `\n${schedules}` : ''}`;
}

/** `setrain sweep status <id> [--watch]`: with --watch, refreshes until the sweep ends. */
export async function sweepStatus(
  ctx: CommandContext,
  sweepId: string,
  options: { watch?: boolean; interval: number; json?: boolean },
): Promise<void> {
  const path = `/v1/sweeps/${encodeURIComponent(sweepId)}`;
  let sweep = await ctx.api().getJson<SweepDetail>(path);
  if (!options.watch) {
    if (options.json) writeJson(ctx, sweep);
    else ctx.out.write(`${renderSweep(sweep)}\n`);
    return;
  }
  const tty = ctx.out.isTTY === true && !options.json;
  let previous = '';
  let previousLines = 0;
  for (;;) {
    const rendered = options.json ? JSON.stringify(sweep) : renderSweep(sweep);
    if (rendered !== previous) {
      // On a terminal, redraw in place; elsewhere (logs, pipes) print each change once.
      if (tty && previousLines > 0) ctx.out.write(`\x1b[${previousLines}A\x1b[J`);
      ctx.out.write(`${rendered}\n`);
      if (!tty && !options.json) ctx.out.write('\n');
      previous = rendered;
      previousLines = rendered.split('\n').length;
    }
    if (sweep.status !== 'running' && sweep.status !== 'paused') break;
    await ctx.sleep(options.interval * 1000);
    sweep = await ctx.api().getJson<SweepDetail>(path);
  }
  if (sweep.status !== 'completed') {
    throw new CliError(
      `sweep ${sweep.id} ended ${sweep.status}${sweep.reason ? `: ${sweep.reason}` : ''}`,
      EXIT_CODES.sweepNotCompleted,
    );
  }
}

/** `setrain sweep cancel <id>` */
export async function sweepCancel(
  ctx: CommandContext,
  sweepId: string,
  options: { json?: boolean },
): Promise<void> {
  const sweep = await ctx
    .api()
    .postJson<SweepDetail>(`/v1/sweeps/${encodeURIComponent(sweepId)}/cancel`, {});
  if (options.json) writeJson(ctx, sweep);
  else ctx.out.write(`sweep ${sweep.id}: ${sweep.status}; running trials stop within seconds\n`);
}
