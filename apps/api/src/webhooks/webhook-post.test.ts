import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';

import { postWebhook, WebhookBlockedError } from './webhook-post.js';

// A real receiver on 127.0.0.1, reached by IP literal and by this machine's host name (which the
// system resolver maps to a loopback or container address).
const server = createServer((request, response) => {
  request.resume();
  response.statusCode = request.headers['x-test'] === 'yes' ? 204 : 400;
  response.end();
});
let port = 0;
const hits: string[] = [];
server.on('request', (request) => hits.push(request.url ?? ''));

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

const options = (blockedRange?: (address: string) => string | undefined) => ({
  headers: { 'x-test': 'yes' },
  body: '{}',
  timeoutMs: 5000,
  ...(blockedRange !== undefined ? { blockedRange } : {}),
});

test('a name whose every address is allowed is resolved by the guarded lookup and delivered', async () => {
  const seen: string[] = [];
  const allowAll = (address: string) => {
    seen.push(address);
    return undefined;
  };
  const status = await postWebhook(new URL(`http://${hostname()}:${port}/ok`), options(allowAll));
  assert.equal(status, 204);
  assert.ok(seen.length >= 1, 'the lookup checked the resolved addresses');
  assert.ok(hits.includes('/ok'));
});

test('a name that resolves to a blocked address is never contacted', async () => {
  // The test before connected to the same host and port: a pooled keep-alive socket would be
  // reused here without a lookup, and so without the check (it was, before agent: false).
  const blockAll = () => 'loopback';
  await assert.rejects(
    postWebhook(new URL(`http://${hostname()}:${port}/name`), options(blockAll)),
    (error: Error) =>
      error instanceof WebhookBlockedError &&
      error.message.startsWith(`blocked: ${hostname()} resolves to `),
  );
  await assert.rejects(
    postWebhook(new URL(`http://127.0.0.1:${port}/literal`), options(blockAll)),
    /blocked: 127\.0\.0\.1 is 127\.0\.0\.1, a loopback address/,
  );
  assert.ok(!hits.includes('/name') && !hits.includes('/literal'));
  // Without a check (the operator's own URLs) the same literal is delivered.
  assert.equal(await postWebhook(new URL(`http://127.0.0.1:${port}/trusted`), options()), 204);
});
