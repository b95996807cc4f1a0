/**
 * The CLI as a user runs it: `setrain` subprocesses against a real local stack (redis-server,
 * s3rver, the API process, a worker process): upload a folder, submit and watch a sweep to its end,
 * fetch the best checkpoint (checksums verified) and predict with it. Then bad input to each
 * command: one line on stderr, no stack trace, a meaningful exit code.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { EXIT_CODES } from '@setrain/cli';

import { runSetrain, type SetrainRun } from './fixtures/setrain-cli.js';
import { makeShapesDataset } from './fixtures/shapes-dataset.js';
import { tempDir, type TempDir } from './harness/index.js';
import { startLocalStack, type LocalStack } from './stack/local-stack.js';

let stack: LocalStack;
let work: TempDir;

before(async () => {
  [stack, work] = await Promise.all([
    startLocalStack({ workers: 1, engine: 'auto' }),
    tempDir('cli-e2e'),
  ]);
});

after(async () => {
  await stack?.stop();
  await work?.cleanup();
});

function setrain(args: string[], env: Record<string, string> = {}): Promise<SetrainRun> {
  return runSetrain(args, {
    ...stack.cliEnv,
    XDG_CONFIG_HOME: join(work.path, 'config'),
    ...env,
  });
}

/** Asserts a user error: the exit code, one line on stderr matching `message`, no stack trace. */
function assertUserError(result: SetrainRun, exitCode: number, message: RegExp): void {
  assert.equal(result.code, exitCode, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', message);
  assert.doesNotMatch(result.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
}

test(
  'upload, submit --watch, fetch-best and predict through the setrain command',
  { timeout: 600_000 },
  async () => {
    const dataset = await makeShapesDataset({ count: 8, multiLabel: true, seed: 3, format: 'png' });
    const folder = join(work.path, 'shapes');
    await mkdir(folder);
    const rows = ['file,labels'];
    for (const [i, image] of dataset.images.entries()) {
      await writeFile(join(folder, `${i}.png`), image.bytes);
      rows.push(`${i}.png,${image.labels.join(';')}`);
    }
    await writeFile(join(folder, 'labels.csv'), `${rows.join('\n')}\n`);
    const datasetUri = `s3://${stack.bucket}/datasets/cli-shapes`;

    const upload = await setrain(['dataset', 'upload', folder, datasetUri, '--json']);
    assert.equal(upload.code, 0, upload.stderr);
    const uploaded = JSON.parse(upload.stdout) as {
      uploaded: number;
      skipped: number;
      manifestUri: string;
    };
    assert.equal(uploaded.uploaded, 8);
    // Resumable: a second upload finds every object in place with the same sha256.
    const again = JSON.parse(
      (await setrain(['dataset', 'upload', folder, datasetUri, '--json'])).stdout,
    ) as {
      uploaded: number;
      skipped: number;
    };
    assert.deepEqual([again.uploaded, again.skipped], [0, 8]);
    const validate = await setrain(['dataset', 'validate', datasetUri]);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /valid, 8 images, 6 classes \(multi-label\)/);

    const spec = join(work.path, 'sweep.yaml');
    await writeFile(
      spec,
      [
        'name: cli-e2e',
        `dataset: ${uploaded.manifestUri}`,
        'model: { inputSize: 75, dropout: 0 }',
        'training: { epochs: 1, batchSize: 4, validationSplit: 0.25, seed: 5 }',
        'search: { strategy: grid, parameters: { seRatio: [16] } }',
        '',
      ].join('\n'),
    );
    const submit = await setrain(['sweep', 'submit', spec, '--watch', '--interval', '1']);
    assert.equal(submit.code, 0, `${submit.stdout}\n${submit.stderr}`);
    const sweepId = /submitted sweep (\S+)/.exec(submit.stdout)?.[1];
    assert.ok(sweepId, submit.stdout);
    assert.match(submit.stdout, new RegExp(`sweep ${sweepId} \\(cli-e2e\\): completed`));
    assert.match(submit.stdout, /^\*\s+#1\s+16\s+1\/1 .* completed$/m, 'the best trial is marked');

    const status = JSON.parse((await setrain(['sweep', 'status', sweepId, '--json'])).stdout) as {
      status: string;
      trials: unknown[];
    };
    assert.equal(status.status, 'completed');
    const list = await setrain(['sweep', 'list']);
    assert.match(list.stdout, new RegExp(`${sweepId}\\s+cli-e2e\\s+completed`));

    const out = join(work.path, 'best');
    const fetched = await setrain(['fetch-best', sweepId, '-o', out]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /verified by sha256/);
    const card = JSON.parse(await readFile(join(out, 'model-card.json'), 'utf8')) as {
      trialId: string;
      files: { name: string; verified: boolean }[];
      provenance: { seed: number };
    };
    assert.equal(card.trialId, `${sweepId}.1`);
    for (const name of ['model.json', 'weights.bin', 'weights.h5', 'classes.json']) {
      assert.ok(card.files.find((f) => f.name === name)?.verified, `${name} verified`);
    }
    assert.equal(card.provenance.seed, 5);

    const image = join(folder, '0.png');
    const predicted = await setrain(['predict', out, image, '--json', '--engine', 'wasm']);
    assert.equal(predicted.code, 0, predicted.stderr);
    const [prediction] = JSON.parse(predicted.stdout) as {
      image: string;
      top: { label: string; score: number }[];
    }[];
    assert.equal(prediction?.image, image);
    assert.equal(prediction?.top.length, 3);
    for (const t of prediction?.top ?? [])
      assert.ok(dataset.classes.includes(t.label) && t.score >= 0 && t.score <= 1);
  },
);

test(
  'bad input to each command prints one clear line and exits non-zero',
  { timeout: 120_000 },
  async () => {
    const badYaml = join(work.path, 'bad.yaml');
    await writeFile(badYaml, 'dataset: [unclosed\n');
    assertUserError(
      await setrain(['sweep', 'submit', join(work.path, 'nope.yaml')]),
      EXIT_CODES.usage,
      /^setrain: spec file .* does not exist$/,
    );
    assertUserError(
      await setrain(['sweep', 'submit', badYaml]),
      EXIT_CODES.usage,
      /^setrain: spec .* is invalid: 1 problem$/,
    );
    assertUserError(
      await setrain(['sweep', 'list'], { SETRAIN_API_KEY: 'wrong-key-0123456789' }),
      EXIT_CODES.unauthorized,
      /^setrain: the API at .* rejected the API key/,
    );
    assertUserError(
      await setrain(['sweep', 'list'], { SETRAIN_API_URL: 'http://127.0.0.1:1' }),
      EXIT_CODES.unreachable,
      /^setrain: cannot reach the setrain API at http:\/\/127\.0\.0\.1:1/,
    );
    assertUserError(
      await setrain(['sweep', 'status', 'sw-doesnotexist']),
      EXIT_CODES.notFound,
      /^setrain: .*\[SWEEP_NOT_FOUND\]$/,
    );
    assertUserError(
      await setrain(['fetch-best', 'sw-doesnotexist', '-o', join(work.path, 'x')]),
      EXIT_CODES.notFound,
      /SWEEP_NOT_FOUND/,
    );
    assertUserError(
      await setrain([
        'dataset',
        'upload',
        join(work.path, 'missing-folder'),
        `s3://${stack.bucket}/datasets/x`,
      ]),
      EXIT_CODES.usage,
      /^setrain: dataset folder .* does not exist or is not a folder$/,
    );
    assertUserError(
      await setrain(['dataset', 'validate', `s3://${stack.bucket}/datasets/absent`]),
      EXIT_CODES.notFound,
      /^setrain: .*absent/,
    );
    assertUserError(
      await setrain(['predict', work.path, 'x.png']),
      EXIT_CODES.usage,
      /model file .* is missing/,
    );
    const missingDataset = join(work.path, 'missing-dataset.yaml');
    await writeFile(
      missingDataset,
      `dataset: s3://${stack.bucket}/datasets/absent/manifest.jsonl\n`,
    );
    assertUserError(
      await setrain(['sweep', 'submit', missingDataset]),
      EXIT_CODES.rejected,
      /\[DATASET_INVALID\]$/,
    );
  },
);
