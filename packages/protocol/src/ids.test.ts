import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newSweepId, parseTrialId, trialIdOf } from './ids.js';
import { runKeys } from './s3-keys.js';
import { parseS3Uri } from './s3-uri.js';

test('trial ids are deterministic and round-trip', () => {
  const sweepId = newSweepId(() => new Uint8Array(10).fill(7));
  assert.equal(sweepId, 'sw-hhhhhhhhhh');
  const trialId = trialIdOf(sweepId, 3);
  assert.equal(trialId, 'sw-hhhhhhhhhh.3');
  assert.deepEqual(parseTrialId(trialId), { sweepId, trialNumber: 3 });
  assert.equal(parseTrialId('sw-x:3'), undefined);
  assert.throws(() => trialIdOf(sweepId, 0), /start at 1/);
});

test('run keys follow the documented layout', () => {
  const keys = runKeys('sw-abc').trial('sw-abc.2');
  assert.equal(keys.trialJson, 'runs/sw-abc/trials/sw-abc.2/trial.json');
  assert.equal(keys.checkpoint(3), 'runs/sw-abc/trials/sw-abc.2/checkpoints/epoch-0003/');
  assert.equal(keys.final, 'runs/sw-abc/trials/sw-abc.2/final/');
});

test('s3 URIs parse', () => {
  assert.deepEqual(parseS3Uri('s3://my-bucket/datasets/a/manifest.jsonl'), {
    bucket: 'my-bucket',
    key: 'datasets/a/manifest.jsonl',
  });
  assert.equal(parseS3Uri('s3://Bad_Bucket/x'), undefined);
  assert.equal(parseS3Uri('s3://bucket'), undefined);
});
