// Property-based fuzzing (fast-check, seeded, a fixed number of runs) of a real API (buildApp on
// real redis-server and s3rver, listening on 127.0.0.1): sweep specs drawn around the spec schema
// (valid fields, wrong types, unknown keys, garbage YAML) and requests to every route with hostile
// ids, queries and bodies. Every answer must be a 2xx or a 4xx whose body carries a catalogued
// error code, never a 5xx, and /healthz must answer within a second after every run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import fc from 'fast-check';
import { API_ERROR_CODES, apiErrorBodySchema } from '@setrain/protocol';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, type RedisServer, type S3Server } from './harness/index.js';
import { listen } from './security-probe.js';

const API_KEY = 'security-fuzz-key-0123456789';
const SEED = 14;
/** Requests per property; sized so the file runs in seconds on a loaded 2-core machine. */
const RUNS = 60;

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let base: string;
let sweepId: string;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  world = await createApiWorld({ redisServer, s3, label: 'security-fuzz', apiKeys: [API_KEY] });
  base = await listen(await world.app());
  const created = await send('POST', '/v1/sweeps', {
    json: { dataset: world.dataset, training: { epochs: 1, batchSize: 2 } },
  });
  assert.equal(created.status, 201, created.body);
  sweepId = (JSON.parse(created.body) as { id: string }).id;
});
after(async () => {
  await world.close();
  await Promise.all([redisServer.stop(), s3.stop()]);
});

interface Body {
  readonly json?: unknown;
  readonly text?: { readonly contentType: string; readonly value: string };
}

/** One request; streaming answers (events, downloads) are read no further than their status. */
async function send(method: string, path: string, body: Body = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
  let payload: string | undefined;
  if (body.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body.text !== undefined) {
    headers['content-type'] = body.text.contentType;
    payload = body.text.value;
  }
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const streaming = /event-stream|x-tar|octet-stream/.test(
    response.headers.get('content-type') ?? '',
  );
  if (streaming) await response.body?.cancel();
  return { status: response.status, body: streaming ? '' : await response.text() };
}

/** The property every answer must have; returns a description of the violation, if any. */
function checkAnswer(what: string, answer: { status: number; body: string }): void {
  assert.ok(
    (answer.status >= 200 && answer.status < 300) || (answer.status >= 400 && answer.status < 500),
    `${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`,
  );
  if (answer.status >= 400) {
    const parsed = apiErrorBodySchema.safeParse(JSON.parse(answer.body) as unknown);
    assert.ok(parsed.success, `${what}: ${answer.status} without an error body: ${answer.body}`);
    assert.ok(API_ERROR_CODES.includes(parsed.data.error.code));
  }
}

async function assertResponsive(): Promise<void> {
  const started = performance.now();
  const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(health.status, 200);
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `/healthz took ${ms.toFixed(0)} ms`);
}

/** Values of any shape, weighted towards the edges a schema has to handle. */
const hostileValue = fc.oneof(
  fc.constantFrom(null, true, -1, 0, 1e308, -0, 2 ** 53, '', '..', '__proto__', 'constructor'),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 })), { maxLength: 6 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string()), { maxKeys: 4 }),
);

const distribution = fc.oneof(
  fc.array(fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double(), fc.string()), {
    maxLength: 5,
  }),
  fc.record(
    {
      type: fc.constantFrom(
        'constant',
        'values',
        'uniform',
        'log_uniform',
        'int_uniform',
        'normal',
      ),
      value: hostileValue,
      values: fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.string()), { maxLength: 5 }),
      min: fc.oneof(fc.integer({ min: -10, max: 5000 }), fc.double()),
      max: fc.oneof(fc.integer({ min: -10, max: 5000 }), fc.double()),
      mean: fc.double(),
      std: fc.double(),
      step: fc.integer({ min: -2, max: 100 }),
    },
    { requiredKeys: ['type'] },
  ),
  hostileValue,
);

const PARAMETERS = ['seRatio', 'dropout', 'inputSize', 'batchSize', 'learningRate', 'optimizer'];

/** Mostly `valid`, sometimes `hostile`, so that some specs pass and reach storage and Redis. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: hostile, weight: 1 });

/** Specs near the schema: each field valid, wrong, or missing; unknown keys sometimes. */
function specArbitrary(dataset: string) {
  return fc.record(
    {
      dataset: mostly(
        fc.constant(dataset),
        fc.constantFrom(
          's3://other-bucket/datasets/x/manifest.jsonl',
          `${dataset.replace('manifest.jsonl', '')}../../manifest.jsonl`,
          's3://a/manifest.jsonl',
        ),
      ),
      model: mostly(
        fc.record(
          {
            inputSize: mostly(fc.integer({ min: 75, max: 1024 }), hostileValue),
            seRatio: mostly(fc.integer({ min: 1, max: 2048 }), hostileValue),
            sePlacement: mostly(fc.constantFrom('top', 'every-block'), hostileValue),
            backboneWeights: mostly(
              fc.constant(undefined),
              fc.oneof(fc.constant('s3://elsewhere/w.h5'), hostileValue),
            ),
          },
          { requiredKeys: [] },
        ),
        hostileValue,
      ),
      training: mostly(
        fc.record(
          {
            epochs: mostly(fc.integer({ min: 1, max: 3 }), hostileValue),
            batchSize: mostly(fc.integer({ min: 1, max: 4096 }), hostileValue),
            optimizer: mostly(fc.constantFrom('adam', 'sgd', 'rmsprop'), hostileValue),
            learningRate: mostly(fc.double({ min: 1e-5, max: 1, noNaN: true }), hostileValue),
          },
          { requiredKeys: [] },
        ),
        hostileValue,
      ),
      search: mostly(
        fc.record(
          {
            strategy: mostly(
              fc.constantFrom('grid', 'random', 'sobol', 'tpe', 'pbt'),
              hostileValue,
            ),
            parameters: mostly(
              fc.constant({ dropout: [0.1, 0.2] }),
              fc.dictionary(
                fc.oneof(fc.constantFrom(...PARAMETERS), fc.string({ maxLength: 10 })),
                distribution,
                { maxKeys: 2 },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
        hostileValue,
      ),
      maxTrials: mostly(fc.integer({ min: 1, max: 20 }), hostileValue),
      parallelism: mostly(fc.integer({ min: 1, max: 4 }), hostileValue),
      warmStart: mostly(
        fc.constant(undefined),
        fc.oneof(
          fc.record({
            sweeps: fc.array(fc.oneof(fc.constant('sw-aaaaaaaaaa'), fc.string({ maxLength: 20 })), {
              maxLength: 3,
            }),
          }),
          hostileValue,
        ),
      ),
      unknownField: mostly(fc.constant(undefined), hostileValue),
    },
    { requiredKeys: ['dataset'] },
  );
}

test('fuzzed specs to submit and preview answer 2xx or a catalogued 4xx; the API stays responsive', async () => {
  await fc.assert(
    fc.asyncProperty(
      specArbitrary(world.dataset),
      fc.constantFrom('/v1/sweeps/preview', '/v1/sweeps', '/v1/jobs'),
      async (spec, path) => {
        checkAnswer(
          `POST ${path} ${JSON.stringify(spec)}`,
          await send('POST', path, { json: spec }),
        );
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
  await assertResponsive();
});

test('fuzzed spec text (YAML, JSON and garbage) answers 2xx or a catalogued 4xx', async () => {
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    specArbitrary('s3://bucket/manifest.jsonl').map((spec) => JSON.stringify(spec)),
    fc.constantFrom(
      'a: &a [*a]',
      '[[[[[[',
      '{"a":',
      'dataset: !!binary AAAA',
      '? [a]\n: b',
      '---\n---\n',
    ),
  );
  await fc.assert(
    fc.asyncProperty(
      text,
      fc.constantFrom(
        'application/yaml',
        'text/yaml',
        'text/plain',
        'application/json',
        'image/png',
      ),
      async (value, contentType) => {
        const answer = await send('POST', '/v1/sweeps/preview', { text: { contentType, value } });
        checkAnswer(`POST preview as ${contentType}: ${JSON.stringify(value)}`, answer);
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
  await assertResponsive();
});

test('every route with fuzzed ids, queries and bodies answers 2xx or a catalogued 4xx', async () => {
  const id = fc.oneof(
    fc.constant(() => sweepId),
    fc.constant(() => `${sweepId}.1`),
    fc.string({ maxLength: 30 }).map((s) => () => s),
    fc
      .constantFrom(
        'sw-x:trials',
        '..',
        '%2e%2e',
        'sw-aaaaaaaaaa.999999999',
        '%00',
        'a'.repeat(120),
      )
      .map((s) => () => s),
  );
  const route = fc.constantFrom(
    ['GET', '/v1/sweeps/{id}'],
    ['PATCH', '/v1/sweeps/{id}'],
    ['POST', '/v1/sweeps/{id}/cancel'],
    ['POST', '/v1/sweeps/{id}/pause'],
    ['POST', '/v1/sweeps/{id}/resume'],
    ['GET', '/v1/sweeps/{id}/best'],
    ['GET', '/v1/sweeps/{id}/best/download'],
    ['GET', '/v1/sweeps/{id}/events'],
    ['GET', '/v1/trials/{id}'],
    ['GET', '/v1/sweeps'],
    ['DELETE', '/v1/sweeps/{id}'],
    ['GET', '/v1/{id}'],
  );
  const query = fc.oneof(
    fc.constant(''),
    fc.constantFrom(
      '?limit=-1',
      '?limit=1e9',
      '?offset=abc',
      '?n=0',
      '?limit=5&offset=2',
      '?a[b]=c',
    ),
    fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
  );
  const body = fc.option(
    fc.dictionary(fc.constantFrom('parallelism', 'maxTrials', 'reason', 'x'), hostileValue),
    { nil: undefined },
  );
  await fc.assert(
    fc.asyncProperty(route, id, query, body, async ([method, template], makeId, q, json) => {
      const path = template.replace('{id}', encodeURIComponent(makeId())) + q;
      const sendsBody = method !== 'GET' && json !== undefined;
      const answer = await send(method, path, sendsBody ? { json } : {});
      checkAnswer(`${method} ${path} ${sendsBody ? JSON.stringify(json) : ''}`, answer);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  await assertResponsive();
});
