import { type TrialSummary } from '@setrain/protocol';

import { formatNumber } from './table.js';

function trialLabel(trialId: string): string {
  return `#${trialId.split('.').pop() ?? trialId}`;
}

function paramsText(params: TrialSummary['params']): string {
  return Object.entries(params)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, v]) => `${name}=${typeof v === 'number' ? formatNumber(v) : v}`)
    .join(' ');
}

/**
 * The PBT section of `sweep status`: each trial's effective schedule (which parameters trained
 * which epochs of its weights, and whose run trained them) and its exploits. Empty when no trial
 * has PBT lineage.
 */
export function renderPbtSchedules(trials: readonly TrialSummary[]): string {
  const lines: string[] = [];
  for (const trial of [...trials].sort((a, b) => a.trialNumber - b.trialNumber)) {
    if (trial.pbt === undefined) continue;
    const { schedule, lineage } = trial.pbt;
    lines.push(`#${trial.trialNumber}:`);
    schedule.forEach((segment, i) => {
      const next = schedule[i + 1];
      const last = next === undefined ? trial.epochsCompleted : next.fromEpoch - 1;
      const epochs =
        last < segment.fromEpoch
          ? `${segment.fromEpoch}- (next)`
          : last > segment.fromEpoch
            ? `${segment.fromEpoch}-${last}`
            : `${segment.fromEpoch}`;
      lines.push(
        `  epochs ${epochs}: ${paramsText(segment.params)} (trained by ${trialLabel(segment.trialId)})`,
      );
    });
    for (const exploit of lineage) {
      lines.push(
        `  exploit after epoch ${exploit.atEpoch}: copied ${trialLabel(exploit.donorTrialId)}'s epoch ${exploit.donorEpoch} checkpoint; ${paramsText(exploit.paramsBefore)} -> ${paramsText(exploit.paramsAfter)}`,
      );
    }
  }
  return lines.length === 0
    ? ''
    : `PBT schedules (parameters per epoch of each trial's weights):\n${lines.join('\n')}`;
}
