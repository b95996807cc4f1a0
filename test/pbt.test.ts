// Population-based training end to end: a real redis-server, s3rver, the API process and one real
// worker process training SE-Inception v3 at 75x75 on the wasm engine on a few generated images.
// A population of 2: trial 1 learns (a large learning rate), trial 2 barely moves its weights (a
// tiny one). With one worker the trials take turns by interval: trial 1 trains epochs 1-2 and
// continues (nobody to compare with yet), trial 2 trains epochs 1-2, ranks last and exploits: the
// controller copies trial 1's epoch-2 checkpoint into trial 2's checkpoints/ (CopyObject) and
// trial 2 resumes from it with trial 1's perturbed parameters. The test checks the lineage in the
// API and trial.json, the inherited epochs, the effective schedule and that each trial keeps only
// its latest checkpoint at the end.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  runKeys,
  sweepDetailSchema,
  trialRecordSchema,
  type SweepDetail,
  type SweepSpecInput,
} from '@setrain/protocol';
import { getJson, listKeys } from '@setrain/storage';
import { PbtScheduler, sampleIndependent } from '@setrain/sweep';

import { renderSweep } from '@setrain/cli';
import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import { waitFor } from './harness/index.js';
import { startLocalStack, type LocalStack } from './stack/local-stack.js';
import { stackApi } from './stack/stack-api.js';

/** Generous: 8 epochs and 4 trainer starts on 2 shared cores (about 1 minute per epoch under load). */
const SWEEP_TIMEOUT_MS = 840_000;

let stack: LocalStack;

before(async () => {
  stack = await startLocalStack({
    workers: 1,
    engine: 'wasm',
    apiEnv: { SETRAIN_RECONCILE_INTERVAL_MS: '500' },
  });
});
after(async () => {
  await stack?.stop();
});

function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return stackApi<T>(stack, method, path, body);
}

const learningRate = { type: 'log_uniform', min: 1e-8, max: 1e-2 } as const;

/**
 * The first seed whose random population gives trial 1 a rate that learns steadily with Adam
 * (about 1e-3, as in sweeps.test.ts) and trial 2 one that barely moves its weights.
 */
function seedWithOneLearner(): number {
  for (let seed = 0; seed < 10_000; seed++) {
    const lr = (n: number) =>
      sampleIndependent({ parameters: { learningRate } }, seed, n).learningRate as number;
    if (lr(1) > 7e-4 && lr(1) < 1.5e-3 && lr(2) < 1e-6) return seed;
  }
  throw new Error('no seed found');
}

test('PBT: the weak trial copies the strong one’s checkpoint and continues with perturbed parameters; lineage and schedule are recorded', async (t) => {
  const data = await uploadShapesDataset(stack.s3.client, stack.bucket, 'datasets/pbt-shapes', {
    count: 12,
    seed: 5,
  });
  const seed = seedWithOneLearner();
  const spec: SweepSpecInput = {
    name: 'pbt e2e',
    dataset: data.manifestUri,
    model: { inputSize: 75, seRatio: 16, dropout: 0 },
    training: {
      epochs: 4,
      batchSize: 3,
      optimizer: 'adam',
      validationSplit: 0.25,
      augmentation: { flip: false, crop: false },
      seed,
    },
    search: {
      strategy: 'pbt',
      parameters: { learningRate },
      pbt: { populationSize: 2, perturbationInterval: 2 },
    },
    // Validation loss: the training loss of a barely-moving network (near ln 3) can beat a
    // learning one's early on; its validation loss stays high (6.4 against 0.94 after epoch 2 here).
    objective: { metric: 'val_loss', goal: 'minimize' },
    parallelism: 2,
  };
  const created = sweepDetailSchema.parse(await api('POST', '/v1/sweeps', spec));
  assert.equal(created.plannedTrials, 2);
  let sweep: SweepDetail = created;
  await waitFor(
    async () => {
      sweep = sweepDetailSchema.parse(await api('GET', `/v1/sweeps/${created.id}`));
      return sweep.status !== 'running';
    },
    { what: 'the pbt sweep to end', timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 1000 },
  );
  t.diagnostic(renderSweep(sweep));
  assert.equal(sweep.status, 'completed', JSON.stringify(sweep.trials));
  const [one, two] = [...sweep.trials].sort((a, b) => a.trialNumber - b.trialNumber);
  assert.ok(one !== undefined && two !== undefined);
  assert.deepEqual(
    [one.status, one.epochsCompleted, two.status, two.epochsCompleted],
    ['completed', 4, 'completed', 4],
  );

  // Trial 1 never exploited; trial 2 exploited trial 1 once, after its epoch 2.
  assert.deepEqual(one.pbt?.lineage, []);
  const exploit = two.pbt?.lineage[0];
  assert.equal(two.pbt?.lineage.length, 1, JSON.stringify(two.pbt));
  assert.ok(exploit !== undefined);
  assert.equal(exploit.atEpoch, 2);
  assert.equal(exploit.donorTrialId, one.trialId);
  assert.equal(exploit.donorEpoch, 2);
  assert.ok((exploit.paramsBefore.learningRate as number) < 1e-6);
  // The new parameters are exactly the scheduler's explore of trial 1's (seeded by sweep, trial, epoch).
  const scheduler = new PbtScheduler(
    { learningRate },
    { populationSize: 2, perturbationInterval: 2 },
    seed,
    'minimize',
  );
  const replay = scheduler.decide(
    { trialNumber: 2, epoch: 2, value: 1, params: exploit.paramsBefore },
    [
      { trialNumber: 1, epoch: 2, value: 0, params: one.params },
      { trialNumber: 2, epoch: 2, value: 1, params: exploit.paramsBefore },
    ],
  );
  assert.ok(replay.action === 'exploit');
  assert.deepEqual(exploit.paramsAfter, replay.paramsAfter);
  assert.deepEqual(two.params, exploit.paramsAfter);
  // Effective schedule: epochs 1-2 trained by trial 1 with its parameters, 3-4 by trial 2.
  assert.deepEqual(two.pbt?.schedule, [
    { fromEpoch: 1, params: one.params, trialId: one.trialId },
    { fromEpoch: 3, params: exploit.paramsAfter, trialId: two.trialId },
  ]);

  // The copy went to trial 2's checkpoints/ under the exploit's key (its bytes and root are
  // checked in test/pbt-checkpoints.test.ts; the worker verified it against the root when it
  // resumed from it, below). Retention (the default, latest-and-best): once a trial has trained its
  // budget only its latest checkpoint is left, so the copy and trial 1's epoch 2 are gone.
  const keys = runKeys(created.id);
  assert.equal(exploit.checkpoint, keys.trial(two.trialId).exploitedCheckpoint(2, 1));
  for (const trial of [one, two]) {
    const base = keys.trial(trial.trialId).checkpointsPrefix;
    const objects = await listKeys(stack.s3.client, stack.bucket, base);
    const dirs = [...new Set(objects.map((key) => key.slice(base.length).split('/')[0]))];
    assert.deepEqual(dirs, ['epoch-0004'], trial.trialId);
  }

  // trial.json: trial 2 resumed from the copy, inherited trial 1's epochs 1-2, records its lineage.
  const recordOf = async (trialId: string) =>
    trialRecordSchema.parse(
      (await getJson(stack.s3.client, stack.bucket, keys.trial(trialId).trialJson)).value,
    );
  const [recordOne, recordTwo] = [await recordOf(one.trialId), await recordOf(two.trialId)];
  assert.equal(recordTwo.provenance.resumedFromEpoch, 2);
  assert.deepEqual(recordTwo.epochs.slice(0, 2), recordOne.epochs.slice(0, 2));
  assert.deepEqual(
    recordTwo.epochs.map((e) => e.epoch),
    [1, 2, 3, 4],
  );
  assert.deepEqual(recordTwo.pbt, two.pbt);
  assert.equal(recordTwo.training.learningRate, exploit.paramsAfter.learningRate);
  // sweep status shows the schedule.
  assert.match(renderSweep(sweep), /exploit after epoch 2: copied #1's epoch 2 checkpoint/);
});
