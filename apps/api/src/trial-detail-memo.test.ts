import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type EpochMetrics, type TrialState } from '@setrain/protocol';

import { trialDetailJson } from './trial-detail-json.js';
import { TrialDetailMemo } from './trial-detail-memo.js';

const AT = '2026-12-03T10:00:00.000Z';

function stateOf(trialId: string, epochsCompleted: number): TrialState {
  return {
    trialId,
    trialNumber: Number(trialId.split('.')[1]),
    status: 'running',
    params: { learningRate: 0.01 },
    epochsCompleted,
    objectiveValue: null,
    attempts: 1,
    queuedAt: AT,
    startedAt: AT,
  };
}

function epochRow(epoch: number): string {
  const metrics: EpochMetrics = {
    epoch,
    loss: 1 / epoch,
    accuracy: 0.5,
    val_loss: 1.1 / epoch,
    val_accuracy: 0.45,
    durationMs: 900,
    imagesPerSec: 30.25,
  };
  return JSON.stringify(metrics);
}

/** The body built from scratch, as the memo must answer. */
function expected(trialId: string, state: string, epochs: readonly string[]): string {
  const parsedEpochs = epochs.map((row) => JSON.parse(row) as EpochMetrics);
  return trialDetailJson('sw-t', JSON.parse(state) as TrialState, parsedEpochs);
}

test('the memo reuses a body only while the stored state and epoch rows are unchanged', () => {
  const memo = new TrialDetailMemo();
  const state1 = JSON.stringify(stateOf('sw-t.1', 1));
  const rows1 = [epochRow(1)];
  const first = memo.detailJson('sw-t', 'sw-t.1', { state: state1, epochs: rows1 });
  assert.equal(first, expected('sw-t.1', state1, rows1));
  // Equal strings read again (built anew, as each Redis reply is): reused.
  const again = memo.detailJson('sw-t', 'sw-t.1', {
    state: JSON.stringify(stateOf('sw-t.1', 1)),
    epochs: [epochRow(1)],
  });
  assert.equal(again, first);
  assert.deepEqual(memo.counts, { reused: 1, built: 1 });

  // A new epoch row, then a changed state: each is a fresh body, never the kept one.
  const rows2 = [epochRow(1), epochRow(2)];
  const withRow = memo.detailJson('sw-t', 'sw-t.1', { state: state1, epochs: rows2 });
  assert.equal(withRow, expected('sw-t.1', state1, rows2));
  assert.notEqual(withRow, first);
  const state2 = JSON.stringify(stateOf('sw-t.1', 2));
  const withState = memo.detailJson('sw-t', 'sw-t.1', { state: state2, epochs: rows2 });
  assert.equal(withState, expected('sw-t.1', state2, rows2));
  assert.equal((JSON.parse(withState) as { epochsCompleted: number }).epochsCompleted, 2);
  // Same number of rows, one of them different (a rewritten list): rebuilt too.
  const rewritten = [epochRow(1), epochRow(3)];
  const withRewrite = memo.detailJson('sw-t', 'sw-t.1', { state: state2, epochs: rewritten });
  assert.equal(withRewrite, expected('sw-t.1', state2, rewritten));
  assert.deepEqual(memo.counts, { reused: 1, built: 4 });
});

test('the memo keeps at most maxTrials trials, dropping the least recently read', () => {
  const memo = new TrialDetailMemo({ maxTrials: 2 });
  const read = (trialId: string) =>
    memo.detailJson('sw-t', trialId, {
      state: JSON.stringify(stateOf(trialId, 0)),
      epochs: [],
    });
  read('sw-t.1');
  read('sw-t.2');
  read('sw-t.1'); // sw-t.2 is now the least recently read
  read('sw-t.3');
  assert.equal(memo.size, 2);
  assert.deepEqual(memo.counts, { reused: 1, built: 3 });
  read('sw-t.1'); // kept
  read('sw-t.2'); // dropped: built again
  assert.deepEqual(memo.counts, { reused: 2, built: 4 });
});

test('a stored state that is not a valid trial fails the read instead of being kept', () => {
  const memo = new TrialDetailMemo();
  assert.throws(() => memo.detailJson('sw-t', 'sw-t.9', { state: '{"trialId":1}', epochs: [] }));
  assert.equal(memo.size, 0);
});

test('the memo stays within its character budget and does not keep a trial over an eighth of it', () => {
  const state = JSON.stringify(stateOf('sw-t.1', 0));
  const rows = Array.from({ length: 40 }, (_, i) => epochRow(i + 1));
  const probe = new TrialDetailMemo();
  probe.detailJson('sw-t', 'sw-t.1', { state, epochs: rows });
  const oneTrial = probe.keptChars; // the state, the rows and the body
  assert.ok(oneTrial > rows.join('').length, `${oneTrial} characters`);

  // Room for eight such trials (each is an eighth of the budget): a ninth drops the least recent.
  const memo = new TrialDetailMemo({ maxChars: oneTrial * 8 });
  const read = (n: number) =>
    memo.detailJson('sw-t', `sw-t.${n}`, {
      state: JSON.stringify(stateOf(`sw-t.${n}`, 0)),
      epochs: rows,
    });
  for (let n = 1; n <= 8; n += 1) read(n);
  assert.equal(memo.size, 8);
  assert.equal(memo.keptChars, oneTrial * 8);
  read(9);
  assert.equal(memo.size, 8);
  assert.equal(memo.keptChars, oneTrial * 8);
  read(1); // the least recently read was dropped: built again
  assert.deepEqual(memo.counts, { reused: 0, built: 10 });

  // A trial over an eighth of the budget is answered but not kept.
  const small = new TrialDetailMemo({ maxChars: oneTrial * 4 });
  const json = small.detailJson('sw-t', 'sw-t.1', { state, epochs: rows });
  assert.equal(json, expected('sw-t.1', state, rows));
  assert.equal(small.size, 0);
  assert.equal(small.keptChars, 0);
});
