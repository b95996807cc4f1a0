import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type TrialSummary } from '@setrain/protocol';

import { renderPbtSchedules } from './pbt-schedule.js';

const base = { status: 'completed', objectiveValue: 0.5, epochsCompleted: 4 } as const;

test('each trial shows its effective schedule and exploits; none without lineage', () => {
  const trials: TrialSummary[] = [
    {
      ...base,
      trialId: 'sw-abc.2',
      trialNumber: 2,
      params: { learningRate: 0.012 },
      pbt: {
        lineage: [
          {
            atEpoch: 2,
            donorTrialId: 'sw-abc.1',
            donorEpoch: 2,
            paramsBefore: { learningRate: 0.1 },
            paramsAfter: { learningRate: 0.012 },
            checkpoint: 'runs/sw-abc/trials/sw-abc.2/checkpoints/epoch-0002-pbt-1/',
            stateSha256: 'a'.repeat(64),
            decidedAt: '2026-12-02T10:00:00.000Z',
          },
        ],
        schedule: [
          { fromEpoch: 1, params: { learningRate: 0.01 }, trialId: 'sw-abc.1' },
          { fromEpoch: 3, params: { learningRate: 0.012 }, trialId: 'sw-abc.2' },
        ],
      },
    },
    { ...base, trialId: 'sw-abc.1', trialNumber: 1, params: { learningRate: 0.01 } },
  ];
  assert.equal(
    renderPbtSchedules(trials),
    [
      "PBT schedules (parameters per epoch of each trial's weights):",
      '#2:',
      '  epochs 1-2: learningRate=0.01 (trained by #1)',
      '  epochs 3-4: learningRate=0.012 (trained by #2)',
      "  exploit after epoch 2: copied #1's epoch 2 checkpoint; learningRate=0.1 -> learningRate=0.012",
    ].join('\n'),
  );
  assert.equal(renderPbtSchedules(trials.slice(1)), '');
  // Right after the exploit the new stretch has not trained yet.
  const waiting = renderPbtSchedules([{ ...(trials[0] as TrialSummary), epochsCompleted: 2 }]);
  assert.match(waiting, /epochs 3- \(next\): learningRate=0\.012 \(trained by #2\)/);
});
