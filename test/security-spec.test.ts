// Hostile specs against a real API (buildApp on real redis-server and s3rver, listening on
// 127.0.0.1): huge and many-key YAML, alias bombs, deep nesting, oversized grids and malformed
// route ids each answer a clear 4xx quickly while /healthz keeps answering; nothing answers 500.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { MAX_TRIALS_LIMIT } from '@setrain/protocol';

import { createApiWorld, type ApiWorld } from './api-world.js';
import { startRedis, startS3, type RedisServer, type S3Server } from './harness/index.js';
import { errorOf, listen, sendWhileProbing } from './security-probe.js';

const API_KEY = 'security-key-0123456789';
const AUTH = { authorization: `Bearer ${API_KEY}` };
/** A hostile spec must be answered within this long, and /healthz must never wait longer. */
const DEADLINE_MS = 1000;

let redisServer: RedisServer;
let s3: S3Server;
let world: ApiWorld;
let base: string;

before(async () => {
  [redisServer, s3] = await Promise.all([startRedis(), startS3()]);
  world = await createApiWorld({ redisServer, s3, label: 'security-spec', apiKeys: [API_KEY] });
  base = await listen(await world.app());
  // One valid YAML parse first, so the deadlines below time the parser, not its JIT warm-up.
  await fetch(`${base}/v1/sweeps/preview`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/yaml' },
    body: `dataset: ${world.dataset}\nsearch: { parameters: { dropout: [0.1, 0.2] } }\n`,
  });
});
after(async () => {
  await world.close();
  await Promise.all([redisServer.stop(), s3.stop()]);
});

function manyKeys(count: number): string {
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(`k${i}: ${i}`);
  return `${lines.join('\n')}\n`;
}

const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  '',
].join('\n');

const HOSTILE_SPECS: readonly { name: string; text: string; status: number; code: string }[] = [
  // 189 KB and 990 KB: over the spec cap (16 KiB) and, the second, the body cap (1 MiB).
  { name: '20,000 keys', text: manyKeys(20_000), status: 413, code: 'SPEC_TOO_LARGE' },
  { name: '100,000 keys', text: manyKeys(100_000), status: 413, code: 'BODY_TOO_LARGE' },
  // Under the size cap: parsed, linearly, and rejected by the schema.
  { name: '1,200 keys', text: manyKeys(1_200), status: 400, code: 'SPEC_INVALID' },
  { name: 'an alias bomb', text: ALIAS_BOMB, status: 400, code: 'SPEC_INVALID' },
  {
    name: 'duplicate keys',
    text: 'maxTrials: 1\nmaxTrials: 2\n',
    status: 400,
    code: 'SPEC_INVALID',
  },
  { name: 'deep flow nesting', text: '['.repeat(15_000), status: 400, code: 'SPEC_INVALID' },
  {
    name: 'deep block nesting',
    text: Array.from({ length: 150 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
    status: 400,
    code: 'SPEC_INVALID',
  },
];

for (const spec of HOSTILE_SPECS) {
  for (const path of ['/v1/sweeps', '/v1/jobs', '/v1/sweeps/preview']) {
    test(`${spec.name} to ${path} answers ${spec.status} ${spec.code} fast; /healthz keeps answering`, async () => {
      const answer = await sendWhileProbing(base, path, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/yaml' },
        body: spec.text,
      });
      assert.equal(answer.status, spec.status, answer.body);
      assert.equal(errorOf(answer.body).code, spec.code);
      assert.ok(answer.ms < DEADLINE_MS, `answered in ${answer.ms.toFixed(0)} ms`);
      assert.ok(
        answer.slowestHealthz < DEADLINE_MS,
        `/healthz waited ${answer.slowestHealthz.toFixed(0)} ms`,
      );
    });
  }
}

test('a duplicate key is named; an alias bomb says aliases', async () => {
  const dup = await sendWhileProbing(base, '/v1/sweeps', {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/yaml' },
    body: 'maxTrials: 1\nmaxTrials: 2\n',
  });
  assert.match(errorOf(dup.body).message, /duplicate key "maxTrials"/);
  const bomb = await sendWhileProbing(base, '/v1/sweeps', {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'text/yaml' },
    body: ALIAS_BOMB,
  });
  assert.match(errorOf(bomb.body).message, /alias/i);
});

test('a grid over the trial limit without maxTrials answers 400 telling to set maxTrials', async () => {
  const values = Array.from({ length: 101 }, (_, i) => (i + 1) / 1000);
  const spec = {
    dataset: world.dataset,
    training: { epochs: 1, batchSize: 2 },
    search: { strategy: 'grid', parameters: { dropout: values, learningRate: values } },
  };
  for (const path of ['/v1/sweeps', '/v1/sweeps/preview']) {
    const answer = await sendWhileProbing(base, path, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    });
    assert.equal(answer.status, 400, answer.body);
    const error = errorOf(answer.body);
    assert.equal(error.code, 'SPEC_INVALID');
    assert.equal(error.issues?.[0]?.path, 'maxTrials');
    assert.match(error.message, /10201 combinations.*set maxTrials/);
  }
  // The same grid with maxTrials is accepted and plans exactly that many trials.
  const capped = await fetch(`${base}/v1/sweeps`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ ...spec, maxTrials: MAX_TRIALS_LIMIT }),
  });
  assert.equal(capped.status, 201, await capped.clone().text());
  const detail = (await capped.json()) as { id: string; plannedTrials: number };
  assert.equal(detail.plannedTrials, MAX_TRIALS_LIMIT);
  await fetch(`${base}/v1/sweeps/${detail.id}/cancel`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: '{}',
  });
});

test('route ids that are not ids answer 404, never another Redis key or a 500', async () => {
  const cases: readonly [string, string, string][] = [
    ['GET', '/v1/sweeps/sw-abcdefghij:trials', 'SWEEP_NOT_FOUND'],
    ['GET', '/v1/sweeps/sw-abcdefghij:stops', 'SWEEP_NOT_FOUND'],
    ['GET', `/v1/sweeps/${encodeURIComponent('*')}`, 'SWEEP_NOT_FOUND'],
    // Past Fastify's longest route parameter: the router's own 404, in the catalogue's shape.
    ['GET', `/v1/sweeps/${'a'.repeat(300)}`, 'NOT_FOUND'],
    ['POST', '/v1/sweeps/sw-x%00y/pause', 'SWEEP_NOT_FOUND'],
    ['POST', '/v1/sweeps/SW-UPPER/resume', 'SWEEP_NOT_FOUND'],
    ['PATCH', '/v1/sweeps/sw-abc:def', 'SWEEP_NOT_FOUND'],
    ['GET', '/v1/sweeps/sw-abc:d/best', 'SWEEP_NOT_FOUND'],
    ['GET', '/v1/trials/sw-abcdefghij.1:epochs', 'TRIAL_NOT_FOUND'],
    ['GET', '/v1/trials/sw-abcdefghij.1234567', 'TRIAL_NOT_FOUND'],
  ];
  for (const [method, url, code] of cases) {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { ...AUTH, 'content-type': 'application/json' },
      ...(method === 'GET' ? {} : { body: '{"parallelism":1}' }),
    });
    const body = await response.text();
    assert.equal(response.status, 404, `${method} ${url}: ${body}`);
    assert.equal(errorOf(body).code, code, `${method} ${url}`);
  }
});
