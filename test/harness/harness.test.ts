import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  freePort,
  promtoolPath,
  redisPing,
  requireBinary,
  startPrometheus,
  startRedis,
  startS3,
  startServiceProcess,
  tempDir,
  uniqueName,
  uniqueQueuePrefix,
  waitFor,
  BinaryMissingError,
  WaitTimeoutError,
} from './index.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('uniqueName gives distinct DNS-valid names of at most 63 characters', () => {
  const names = new Set(Array.from({ length: 50 }, () => uniqueName('My_Bucket.Name')));
  assert.equal(names.size, 50);
  for (const name of names) {
    assert.match(name, /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
  }
  assert.ok(uniqueName('x'.repeat(100)).length <= 63);
  assert.match(uniqueQueuePrefix('api'), /^\{bull-api-[a-z0-9-]+\}$/);
});

test('freePort returns a bindable port; tempDir cleans up', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  const dir = await tempDir('unit');
  assert.ok(existsSync(dir.path));
  await dir.cleanup();
  assert.ok(!existsSync(dir.path));
  await dir.cleanup(); // idempotent
});

test('waitFor returns the first truthy value and times out naming what it waited for', async () => {
  let calls = 0;
  assert.equal(
    await waitFor(() => (++calls >= 3 ? 'ok' : undefined), { what: 'x', intervalMs: 1 }),
    'ok',
  );
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('still down');
      },
      { what: 'the moon', timeoutMs: 30, intervalMs: 5 },
    ),
    (error: unknown) =>
      error instanceof WaitTimeoutError &&
      error.code === 'HARNESS_WAIT_TIMEOUT' &&
      /the moon.*still down/.test(error.message),
  );
});

test('a missing binary names its Debian package', () => {
  assert.throws(
    () => requireBinary('no-such-binary-setrain', 'setrain-tools'),
    (error: unknown) =>
      error instanceof BinaryMissingError && /apt-get install setrain-tools/.test(error.message),
  );
  assert.match(promtoolPath(), /promtool$/);
});

test('startRedis answers PING and stop() ends the server', async () => {
  const redis = await startRedis();
  after(() => redis.stop());
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await redisPing(redis.host, redis.port), true);
  await redis.stop();
  await assert.rejects(redisPing(redis.host, redis.port));
  assert.ok(!existsSync(redis.dir));
  await redis.stop(); // idempotent
});

test('stop() ends a service, escalating to SIGKILL when it ignores SIGTERM', async () => {
  const polite = startServiceProcess('sleeper', '/bin/sleep', ['60']);
  await sleep(50);
  assert.ok(isAlive(polite.pid));
  await polite.stop(2_000);
  assert.ok(!isAlive(polite.pid));
  assert.equal(polite.exit()?.code, 143); // the shell reports the service's TERM as 128 + 15
  // trap '' is inherited by sleep, so neither the shell's TERM nor the group TERM ends it.
  const stubborn = startServiceProcess('stubborn', '/bin/sh', ['-c', "trap '' TERM; sleep 60"]);
  await sleep(100);
  const started = Date.now();
  await stubborn.stop(300);
  assert.ok(Date.now() - started >= 300);
  assert.equal(stubborn.exit()?.signal, 'SIGKILL');
});

test('the watchdog stops the service when the owning process dies without cleanup', async () => {
  const dir = await tempDir('orphan');
  after(() => dir.cleanup());
  // A child Node process starts a server, prints the server's pid, then is SIGKILLed.
  const script = `
    import { startServiceProcess } from ${JSON.stringify(new URL('./service-process.ts', import.meta.url).href)};
    const s = startServiceProcess('sleeper', '/bin/sh', ['-c', 'echo $$ > ${dir.path}/pid; exec sleep 60']);
    setInterval(() => {}, 1000);
  `;
  const { spawn } = await import('node:child_process');
  const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: 'ignore',
  });
  const { readFile } = await import('node:fs/promises');
  const servicePid = await waitFor(
    async () => Number((await readFile(`${dir.path}/pid`, 'utf8')).trim()) || undefined,
    { what: 'the child service pid file', timeoutMs: 15_000 },
  );
  assert.ok(isAlive(servicePid));
  owner.kill('SIGKILL');
  await waitFor(() => !isAlive(servicePid), {
    what: `service ${servicePid} to die`,
    timeoutMs: 5_000,
  });
});

test('startS3 serves path-style requests with SDK v3 and creates unique buckets', async () => {
  const s3 = await startS3();
  after(() => s3.stop());
  const bucket = await s3.createBucket();
  assert.match(bucket, /^bucket-/);
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.txt', Body: 'hi' }));
  const got = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.txt' }));
  assert.equal(await got.Body?.transformToString(), 'hi');
  assert.equal(s3.config.forcePathStyle, true);
  await s3.stop();
  assert.ok(!existsSync(s3.dir));
});

test('startPrometheus scrapes a target, evaluates rule files and answers queries', async () => {
  const metrics = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end('# TYPE setrain_harness_value gauge\nsetrain_harness_value 42\n');
  });
  metrics.listen(0, '127.0.0.1');
  await once(metrics, 'listening');
  after(() => metrics.close());
  const { port } = metrics.address() as AddressInfo;
  const prometheus = await startPrometheus({
    configYaml: [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files: [rules/test.yml]',
      'scrape_configs:',
      '  - job_name: fixture',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${port}']`,
    ].join('\n'),
    files: {
      'rules/test.yml':
        'groups:\n  - name: t\n    rules:\n      - record: job:setrain_harness_value:sum\n        expr: sum(setrain_harness_value)\n',
    },
  });
  after(() => prometheus.stop());
  assert.match(prometheus.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const scalar = await prometheus.query('1 + 1');
  assert.equal(scalar.resultType, 'scalar');
  assert.equal((scalar.result as [number, string])[1], '2');
  const samples = await waitFor(
    async () => {
      const vector = await prometheus.queryVector('job:setrain_harness_value:sum');
      return vector.length > 0 ? vector : undefined;
    },
    { what: 'the recorded series', timeoutMs: 20_000, intervalMs: 200 },
  );
  assert.equal(samples[0]?.value[1], '42');
  const [target] = await prometheus.targets();
  assert.equal(target?.health, 'up');
  await assert.rejects(prometheus.query('sum('), /bad_data/);
  await prometheus.stop();
});
