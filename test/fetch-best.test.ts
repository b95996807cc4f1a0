/**
 * `setrain fetch-best` as a user runs it, against the real API (listening), redis-server and
 * s3rver, with a TCP proxy between the API and s3rver that breaks an S3 body off mid-stream: the
 * best epoch's weights by default and the last with --epoch last, paths kept, a non-empty folder
 * refused without --force and its other files kept with it, and a download cut short detected
 * (exit 9) without leaving a partial checkpoint behind.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { EXIT_CODES } from '@setrain/cli';
import { sweepDetailSchema } from '@setrain/protocol';
import { createS3Client } from '@setrain/storage';

import { createApiWorld, writeFinishedTrial, type ApiWorld } from './api-world.js';
import { runSetrain, type SetrainRun } from './fixtures/setrain-cli.js';
import {
  startCuttingProxy,
  startRedis,
  startS3,
  tempDir,
  waitFor,
  type CuttingProxy,
  type RedisServer,
  type S3Server,
  type TempDir,
} from './harness/index.js';

const API_KEY = 'fetch-key-0123456789abcdef';
const WEIGHTS_BYTES = 256 * 1024;

let redisServer: RedisServer;
let s3: S3Server;
let proxy: CuttingProxy;
let work: TempDir;
let world: ApiWorld;
let apiUrl: string;
let sweepId: string;

before(async () => {
  [redisServer, s3, work] = await Promise.all([startRedis(), startS3(), tempDir('fetch-best')]);
  proxy = await startCuttingProxy(s3.endpoint);
  const proxiedS3 = createS3Client({ ...s3.config, endpoint: proxy.endpoint });
  world = await createApiWorld({
    redisServer,
    s3,
    label: 'fetch-best',
    apiKeys: [API_KEY],
    appDeps: { s3: proxiedS3 },
  });
  world.closers.push(() => {
    proxiedS3.destroy();
    return Promise.resolve();
  });
  const app = await world.app();
  apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  world.worker((job) => writeFinishedTrial(s3.client, world.bucket, job.data, 0.25, WEIGHTS_BYTES));
  const created = await app.inject({
    method: 'POST',
    url: '/v1/sweeps',
    headers: { authorization: `Bearer ${API_KEY}` },
    payload: {
      dataset: world.dataset,
      training: { epochs: 2 },
      search: { strategy: 'grid', parameters: {} },
      objective: { metric: 'val_loss', goal: 'minimize' },
      maxTrials: 1,
    },
  });
  assert.equal(created.statusCode, 201, created.body);
  sweepId = sweepDetailSchema.parse(created.json()).id;
  await waitFor(
    async () => {
      const detail = await app.inject({
        method: 'GET',
        url: `/v1/sweeps/${sweepId}`,
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      return sweepDetailSchema.parse(detail.json()).status === 'completed' || undefined;
    },
    { what: 'the sweep to complete', timeoutMs: 30_000, intervalMs: 100 },
  );
});

after(async () => {
  await world?.close();
  await proxy?.stop();
  await Promise.all([redisServer?.stop(), s3?.stop()]);
  await work?.cleanup();
});

function setrain(args: string[]): Promise<SetrainRun> {
  return runSetrain(args, {
    SETRAIN_API_URL: apiUrl,
    SETRAIN_API_KEY: API_KEY,
    XDG_CONFIG_HOME: join(work.path, 'config'),
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Staging folders fetch-best made beside its outputs; all must be gone. */
async function leftoverStaging(): Promise<string[]> {
  return (await readdir(work.path)).filter((name) => name.includes('.fetch-'));
}

test('fetch-best writes the best epoch by default and the last with --epoch last', async () => {
  const best = join(work.path, 'best');
  const result = await setrain(['fetch-best', sweepId, '-o', best, '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await filesUnder(best), [
    'model-card.json',
    'model.json',
    'trial.json',
    'weights.bin',
  ]);
  const weights = await readFile(join(best, 'weights.bin'));
  assert.equal(weights.length, WEIGHTS_BYTES);
  assert.ok(
    weights.every((b) => b === 101),
    'the best epoch (1) weights, not the last',
  );
  const card = JSON.parse(await readFile(join(best, 'model-card.json'), 'utf8')) as {
    weights: string;
    epoch: number;
    files: { verified: boolean }[];
  };
  assert.equal(card.weights, 'best');
  assert.equal(card.epoch, 1);
  assert.ok(card.files.length === 3 && card.files.every((f) => f.verified));

  const last = join(work.path, 'last');
  const lastResult = await setrain(['fetch-best', sweepId, '-o', last, '--epoch', 'last']);
  assert.equal(lastResult.code, 0, lastResult.stderr);
  assert.match(lastResult.stdout, /last weights \(epoch 2\)/);
  assert.ok((await readFile(join(last, 'weights.bin'))).every((b) => b === 1));
  assert.deepEqual(await leftoverStaging(), []);
});

test('a non-empty folder is refused without --force; with it, only fetch-best files change', async () => {
  const dir = join(work.path, 'mine');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'notes.txt'), 'my notes');
  await writeFile(join(dir, 'sub', 'keep.txt'), 'keep');
  await writeFile(join(dir, 'weights.bin'), 'an old download');

  const refused = await setrain(['fetch-best', sweepId, '-o', dir]);
  assert.equal(refused.code, EXIT_CODES.usage, refused.stderr);
  assert.match(refused.stderr, /is not empty; .*--force/);
  assert.equal(await readFile(join(dir, 'weights.bin'), 'utf8'), 'an old download');

  const forced = await setrain(['fetch-best', sweepId, '-o', dir, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(await filesUnder(dir), [
    'model-card.json',
    'model.json',
    'notes.txt',
    'sub/keep.txt',
    'trial.json',
    'weights.bin',
  ]);
  assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'my notes');
  assert.equal(await readFile(join(dir, 'sub', 'keep.txt'), 'utf8'), 'keep');
  assert.equal((await readFile(join(dir, 'weights.bin'))).length, WEIGHTS_BYTES);
});

test('an S3 body broken off mid-stream is a clear error (exit 9) and leaves nothing behind', async () => {
  const fresh = join(work.path, 'cut');
  const cutsBefore = proxy.cuts;
  proxy.cutNext('/best/weights.bin', 64 * 1024);
  const cut = await setrain(['fetch-best', sweepId, '-o', fresh]);
  assert.equal(proxy.cuts, cutsBefore + 1, 'the proxy broke the S3 response off');
  assert.equal(cut.code, EXIT_CODES.incomplete, cut.stderr);
  assert.match(cut.stderr, /^setrain: the download was cut short: .*nothing was written/);
  assert.doesNotMatch(cut.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  await assert.rejects(readdir(fresh), { code: 'ENOENT' });

  // Into a folder holding a good download (--force): it stays whole.
  const good = join(work.path, 'best');
  const before = await readFile(join(good, 'weights.bin'));
  proxy.cutNext('/best/weights.bin', 64 * 1024);
  const again = await setrain(['fetch-best', sweepId, '-o', good, '--force']);
  assert.equal(again.code, EXIT_CODES.incomplete, again.stderr);
  assert.deepEqual(await readFile(join(good, 'weights.bin')), before);
  assert.deepEqual(await leftoverStaging(), []);
});
