/**
 * `GET /v1/sweeps/:id/events` against a real redis-server: the API (buildApp + listen on
 * 127.0.0.1) streams a snapshot, then updates as trial state changes in Redis; two clients share one
 * watcher; Last-Event-ID resumes without a snapshot; an unknown id gets one; the key is required.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { type ApiApp } from '@setrain/api';
import { sweepEventSchema, type SweepEvent } from '@setrain/protocol';
import { Redis } from 'ioredis';

import { startRedis, uniqueName, type RedisServer } from './harness/index.js';
import { listenRedisOnlyApi } from './ui/redis-only-api.js';
import { appendSyntheticEpoch, writeSyntheticSweep } from './ui/synthetic-sweep.js';

const API_KEY = 'events-key-0123456789';
const SWEEP = 'sw-events-test';
let server: RedisServer;
let redis: Redis;
let app: ApiApp;
let base: string;
const prefix = `{${uniqueName('ev')}}`;
let rates: number[];

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  rates = await writeSyntheticSweep(redis, prefix, { sweepId: SWEEP, trials: 3, epochs: 2 });
  ({ app, base } = await listenRedisOnlyApi(redis, prefix, API_KEY, {
    pollIntervalMs: 100,
    heartbeatMs: 200,
  }));
});

after(async () => {
  await app?.close();
  redis?.disconnect();
  await server?.stop();
});

/** An open event stream: parsed events as they arrive, heartbeats counted. */
interface Stream {
  readonly events: { id: string; event: SweepEvent }[];
  heartbeats: number;
  close(): void;
}

async function openStream(lastEventId?: string): Promise<Stream> {
  const controller = new AbortController();
  const response = await fetch(`${base}/v1/sweeps/${SWEEP}/events`, {
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}),
    },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const stream: Stream = {
    events: [],
    heartbeats: 0,
    close: () => {
      controller.abort();
    },
  };
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(': heartbeat')) stream.heartbeats++;
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id !== undefined && data !== undefined) {
          stream.events.push({ id, event: sweepEventSchema.parse(JSON.parse(data)) });
        }
      }
    }
  })();
  return stream;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the stream needs the API key', async () => {
  const response = await fetch(`${base}/v1/sweeps/${SWEEP}/events`);
  assert.equal(response.status, 401);
  const missing = await fetch(`${base}/v1/sweeps/sw-nope-nope/events`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  assert.equal(missing.status, 404);
});

test('snapshot, updates with new epochs, shared watcher, Last-Event-ID replay', async () => {
  const a = await openStream();
  const b = await openStream();
  await until('both snapshots', () => a.events.length >= 1 && b.events.length >= 1);
  const snapshot = a.events[0]!.event;
  assert.equal(snapshot.type, 'snapshot');
  assert.equal(snapshot.trials.length, 3);
  assert.deepEqual(snapshot.epochs[`${SWEEP}.1`]?.loss.length, 2);
  assert.equal(snapshot.sweep.counts.running, 3);

  await appendSyntheticEpoch(redis, prefix, SWEEP, 2, rates[1]!, 3);
  await until('an update on both', () => a.events.length >= 2 && b.events.length >= 2);
  const update = a.events[1]!.event;
  assert.equal(update.type, 'update');
  assert.deepEqual(
    update.trials.map((t) => t.trialId),
    [`${SWEEP}.2`],
  );
  assert.equal(update.epochs[`${SWEEP}.2`]?.from, 3);
  assert.equal(update.epochs[`${SWEEP}.2`]?.loss.length, 1);
  // Both clients got the very same event from the one watcher.
  assert.equal(b.events[1]!.id, a.events[1]!.id);
  const resumeFrom = a.events[1]!.id;
  a.close();

  await appendSyntheticEpoch(redis, prefix, SWEEP, 3, rates[2]!, 3);
  await until('the second update', () => b.events.length >= 3);
  const resumed = await openStream(resumeFrom);
  await until('the missed update', () => resumed.events.length >= 1);
  assert.equal(resumed.events[0]!.event.type, 'update', 'only what was missed, no snapshot');
  assert.equal(resumed.events[0]!.id, b.events[2]!.id);

  const stranger = await openStream('0000-99');
  await until('a snapshot for an unknown id', () => stranger.events.length >= 1);
  assert.equal(stranger.events[0]!.event.type, 'snapshot');
  assert.equal(stranger.events[0]!.event.epochs[`${SWEEP}.3`]?.loss.length, 3);
  await until('heartbeats', () => b.heartbeats >= 1);
  for (const s of [b, resumed, stranger]) s.close();
});
