import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';

import { EXIT_CODES } from './errors.js';
import { runCli } from './main.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'setrain-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string> = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await runCli(argv, {
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir, ...env },
    in: Readable.from([]),
    out,
    err,
  });
  return { code, ...chunks };
}

/** A real HTTP server standing in for an API that answers one fixed error. */
async function serve(status: number, body: unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A loopback port nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const validSpec = 'dataset: s3://bucket/datasets/x/manifest.jsonl\ntraining: { epochs: 1 }\n';

test('--help exits 0 and lists the commands', async () => {
  const result = await run(['--help']);
  assert.equal(result.code, EXIT_CODES.ok);
  for (const cmd of ['dataset', 'sweep', 'fetch-best', 'predict'])
    assert.match(result.out, new RegExp(cmd));
});

test('an unknown command is a usage error', async () => {
  const result = await run(['sweeep']);
  assert.equal(result.code, EXIT_CODES.usage);
  assert.match(result.err, /unknown command 'sweeep'/);
});

test('a missing spec file prints one clear line', async () => {
  const result = await run(['sweep', 'submit', join(dir, 'missing.yaml'), '--api-key', 'k']);
  assert.equal(result.code, EXIT_CODES.usage);
  assert.equal(result.err, `setrain: spec file ${join(dir, 'missing.yaml')} does not exist\n`);
});

test('bad YAML and invalid fields are reported before any request', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'dataset: [unclosed\n');
  const yaml = await run([
    'sweep',
    'submit',
    bad,
    '--api-key',
    'k',
    '--api-url',
    'http://127.0.0.1:9',
  ]);
  assert.equal(yaml.code, EXIT_CODES.usage);
  assert.match(yaml.err, /^setrain: spec .*bad\.yaml is invalid: 1 problem\n {2}not valid YAML/);
  const invalid = join(dir, 'invalid.yaml');
  await writeFile(
    invalid,
    'dataset: s3://bucket/datasets/x/manifest.jsonl\ntraining: { epochs: 0, lr: 1 }\n',
  );
  const fields = await run(['sweep', 'submit', invalid, '--api-key', 'k']);
  assert.equal(fields.code, EXIT_CODES.usage);
  assert.match(fields.err, /training: unknown field "lr"/);
  assert.match(fields.err, /training\.epochs: /);
  assert.doesNotMatch(fields.err, /at .*\.ts:\d+/, 'no stack trace');
});

test('an unreachable API is named with what to do', async () => {
  const spec = join(dir, 'ok.yaml');
  await writeFile(spec, validSpec);
  const url = await closedPortUrl();
  const result = await run(['sweep', 'submit', spec, '--api-key', 'k', '--api-url', url]);
  assert.equal(result.code, EXIT_CODES.unreachable);
  assert.ok(
    result.err.startsWith(
      `setrain: cannot reach the setrain API at ${url} (ECONNREFUSED); is it running?`,
    ),
    result.err,
  );
  assert.equal(result.err.split('\n').length, 2, 'one line');
});

test('a wrong key and API-side validation errors map to exit codes', async () => {
  const unauthorized = await serve(401, {
    error: { code: 'UNAUTHORIZED', message: 'invalid API key' },
  });
  const rejected = await serve(400, {
    error: {
      code: 'DATASET_INVALID',
      message: 'dataset: s3://bucket/datasets/x/manifest.jsonl does not exist',
      issues: [{ path: 'dataset', message: 'not found' }],
    },
  });
  try {
    const spec = join(dir, 'ok2.yaml');
    await writeFile(spec, validSpec);
    const a = await run(['sweep', 'list', '--api-key', 'wrong', '--api-url', unauthorized.url]);
    assert.equal(a.code, EXIT_CODES.unauthorized);
    assert.match(a.err, /rejected the API key \(invalid API key\); check --api-key/);
    const b = await run(['sweep', 'submit', spec, '--api-url', rejected.url], {
      SETRAIN_API_KEY: 'k',
    });
    assert.equal(b.code, EXIT_CODES.rejected);
    assert.match(
      b.err,
      /^setrain: dataset: .* does not exist \[DATASET_INVALID\]\n {2}dataset: not found\n$/,
    );
  } finally {
    unauthorized.server.close();
    rejected.server.close();
  }
});

test('no API key at all says where to put one', async () => {
  const result = await run(['sweep', 'list']);
  assert.equal(result.code, EXIT_CODES.unauthorized);
  assert.match(result.err, /no API key: pass --api-key, set SETRAIN_API_KEY/);
});

test('a config file supplies the URL and key; flags win over env over file', async () => {
  const { url, server } = await serve(401, { error: { code: 'UNAUTHORIZED', message: 'nope' } });
  try {
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ apiUrl: url, apiKey: 'from-file' }));
    const result = await run(['sweep', 'list', '--config', config]);
    assert.equal(result.code, EXIT_CODES.unauthorized, 'reached the server named in the file');
    await writeFile(config, '{ not json');
    const broken = await run(['sweep', 'list', '--config', config]);
    assert.equal(broken.code, EXIT_CODES.usage);
    assert.match(broken.err, /config file .* is not valid JSON/);
  } finally {
    server.close();
  }
});

test('dataset upload rejects a folder without images or labels', async () => {
  const empty = join(dir, 'empty');
  await mkdir(empty);
  const result = await run(['dataset', 'upload', empty, 's3://bucket/datasets/x']);
  assert.equal(result.code, EXIT_CODES.usage);
  assert.match(result.err, /no images found in .*empty: add labels\.csv/);
  const badUri = await run(['dataset', 'upload', empty, 'http://x']);
  assert.equal(badUri.code, EXIT_CODES.usage);
  assert.match(badUri.err, /is not an S3 dataset URI/);
});

test('predict on a folder that is not a checkpoint says so', async () => {
  const result = await run(['predict', dir, join(dir, 'x.png'), '--engine', 'cpu']);
  assert.equal(result.code, EXIT_CODES.usage);
  assert.match(
    result.err,
    /model file .*model\.json is missing; is this a folder written by "setrain fetch-best"\?/,
  );
});
