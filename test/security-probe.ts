/**
 * Helpers of the security tests: an API listening on 127.0.0.1 (so hostile requests and /healthz
 * share one real event loop, as in production) and a probe that times /healthz meanwhile.
 */
import assert from 'node:assert/strict';
import { type AddressInfo } from 'node:net';

import { type ApiApp } from '@setrain/api';
import { apiErrorBodySchema, type ApiErrorBody } from '@setrain/protocol';

/** Starts `app` on an ephemeral 127.0.0.1 port; returns its base URL. */
export async function listen(app: ApiApp): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** Everything a security test asserts about one response. */
export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
  /** Slowest /healthz answer while the request was in flight (ms). */
  readonly slowestHealthz: number;
}

/**
 * Sends one request while polling /healthz every 20 ms; resolves with the answer, how long it took
 * and the slowest /healthz seen meanwhile.
 */
export async function sendWhileProbing(
  base: string,
  path: string,
  init: RequestInit,
): Promise<Answer> {
  let inFlight = true;
  let slowest = 0;
  const probe = (async () => {
    while (inFlight) {
      const start = performance.now();
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const start = performance.now();
  const response = await fetch(`${base}${path}`, init);
  const body = await response.text();
  const ms = performance.now() - start;
  inFlight = false;
  await probe;
  return { status: response.status, body, ms, slowestHealthz: slowest };
}

/** The error of an error response (fails the test when the body is not one). */
export function errorOf(body: string): ApiErrorBody['error'] {
  return apiErrorBodySchema.parse(JSON.parse(body)).error;
}
