// Webhooks end to end: a real redis-server, s3rver and API process (no workers: the sweep's trial
// just waits) and a real HTTP receiver on this machine. The API is configured with a URL for every
// sweep (SETRAIN_WEBHOOK_URLS) and the spec names a second one for status changes only. The
// receiver answers 500 to the first attempt at every delivery, so each one is retried; it checks
// every request's HMAC-SHA256 signature the way the README tells receivers to.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import {
  WEBHOOK_HEADERS,
  webhookDeliveriesResponseSchema,
  webhookPayloadSchema,
  type SweepSpecInput,
  type WebhookPayload,
} from '@setrain/protocol';

import { uploadShapesDataset } from './fixtures/shapes-dataset.js';
import { waitFor } from './harness/index.js';
import { startLocalStack, type LocalStack } from './stack/local-stack.js';
import { stackApi } from './stack/stack-api.js';

const SECRET = 'test-webhook-secret-0123456789';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let stack: LocalStack;
let receiver: Server;
const received: Received[] = [];
const seenDeliveries = new Set<string>();

/** What a receiver does: HMAC-SHA256 over "<timestamp>.<raw body>", compared in constant time. */
function signatureValid(headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = String(headers[WEBHOOK_HEADERS.timestamp]);
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`;
  const actual = String(headers[WEBHOOK_HEADERS.signature]);
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return (
    fresh &&
    actual.length === expected.length &&
    timingSafeEqual(Buffer.from(actual), Buffer.from(expected))
  );
}

before(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const delivery = String(request.headers[WEBHOOK_HEADERS.delivery]);
      // The first attempt at each delivery fails; the retry succeeds.
      const answered = seenDeliveries.has(delivery) ? 204 : 500;
      seenDeliveries.add(delivery);
      received.push({ path: request.url ?? '', headers: request.headers, body, answered });
      response.statusCode = answered;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  stack = await startLocalStack({
    workers: 0,
    apiEnv: {
      SETRAIN_RECONCILE_INTERVAL_MS: '500',
      SETRAIN_WEBHOOK_URLS: `http://127.0.0.1:${port}/all`,
      SETRAIN_WEBHOOK_SECRET: SECRET,
      SETRAIN_WEBHOOK_BACKOFF_MS: '200',
      // The spec's URL is on this machine: allowed explicitly (the operator's URL is trusted).
      SETRAIN_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32',
    },
  });
});
after(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return stackApi<T>(stack, method, path, body);
}

test('status changes reach both URLs signed; a failed first attempt is retried; deliveries are listed', async () => {
  const port = (receiver.address() as AddressInfo).port;
  const data = await uploadShapesDataset(stack.s3.client, stack.bucket, 'datasets/hooks', {
    count: 4,
    seed: 1,
  });
  const spec: SweepSpecInput = {
    name: 'webhooks e2e',
    dataset: data.manifestUri,
    model: { inputSize: 75 },
    training: { epochs: 1 },
    search: { strategy: 'random', parameters: { learningRate: [0.001] } },
    maxTrials: 1,
    notify: { webhooks: [{ url: `http://127.0.0.1:${port}/spec`, events: ['sweep.status'] }] },
  };
  const created = await api<{ id: string }>('POST', '/v1/sweeps', spec);
  await api('POST', `/v1/sweeps/${created.id}/pause`);
  await api('POST', `/v1/sweeps/${created.id}/cancel`, { reason: 'webhook test' });

  // 3 status changes (created running, paused, cancelled) x 2 URLs, each tried twice.
  await waitFor(() => Promise.resolve(received.filter((r) => r.answered === 204).length >= 6), {
    what: 'six successful deliveries',
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  for (const r of received) {
    assert.ok(signatureValid(r.headers, r.body), `bad signature on ${r.path}`);
    assert.equal(r.headers['content-type'], 'application/json');
  }
  const payloads = received
    .filter((r) => r.answered === 204)
    .map((r) => ({ path: r.path, payload: webhookPayloadSchema.parse(JSON.parse(r.body)) }));
  const statuses = (path: string) =>
    payloads
      .filter((p) => p.path === path)
      .map((p) => p.payload)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((p: WebhookPayload) => `${p.sweep.previousStatus ?? '-'}>${p.sweep.status}`);
  assert.deepEqual(statuses('/all'), ['->running', 'running>paused', 'paused>cancelled']);
  assert.deepEqual(statuses('/spec'), ['->running', 'running>paused', 'paused>cancelled']);
  // Every delivery failed once and was retried with the same id and a fresh signature.
  for (const id of seenDeliveries) {
    assert.deepEqual(
      received.filter((r) => r.headers[WEBHOOK_HEADERS.delivery] === id).map((r) => r.answered),
      [500, 204],
      id,
    );
  }

  const { deliveries } = webhookDeliveriesResponseSchema.parse(
    await api('GET', `/v1/sweeps/${created.id}/webhooks`),
  );
  assert.equal(deliveries.length, 12);
  const attempts = deliveries.filter((d) => d.url.endsWith('/spec') && d.id.includes('.v0.'));
  assert.deepEqual(
    attempts.map((d) => [d.attempt, d.ok, d.status, d.error]),
    [
      [2, true, 204, undefined],
      [1, false, 500, 'the receiver answered HTTP 500'],
    ],
  );
});

test('a notify URL that is not http(s) is refused at submit, naming the field', async () => {
  const response = await fetch(`${stack.apiUrl}/v1/sweeps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      dataset: 's3://setrain/datasets/x/manifest.jsonl',
      model: {},
      training: {},
      search: { strategy: 'random', parameters: {} },
      notify: { webhooks: [{ url: 'ftp://example.com/hook' }] },
    }),
  });
  assert.equal(response.status, 400);
  assert.match(
    await response.text(),
    /notify\.webhooks\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/,
  );
});
