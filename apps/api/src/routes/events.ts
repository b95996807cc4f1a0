import { type ServerResponse } from 'node:http';

import { SWEEP_EVENT_NAME } from '@setrain/protocol';
import { z } from 'zod';

import { type ApiApp, type RouteContext } from '../app.js';
import { SweepEventHub, type SweepEventHubOptions } from '../sweep-event-hub.js';
import { type SerializedEvent } from '../sweep-watcher.js';
import { COMMON_ERROR_RESPONSES } from './error-responses.js';
import { loadSweep } from './sweeps.js';

/** Options of the event stream route. */
export interface EventRouteOptions extends SweepEventHubOptions {
  /** Interval of the `: heartbeat` comments that keep idle streams (and proxies) open; default 15 s. */
  readonly heartbeatMs?: number;
  /** A client whose unsent data grows beyond this is disconnected (it reconnects and gets a
   * snapshot), so a slow reader cannot grow the API's memory; default 16 MiB. */
  readonly maxBufferedBytes?: number;
}
export const DEFAULT_HEARTBEAT_MS = 15_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Browsers wait this long before reconnecting a dropped stream (the SSE `retry` field). */
const RETRY_MS = 2000;

function frame(event: SerializedEvent): string {
  return `id: ${event.id}\nevent: ${SWEEP_EVENT_NAME}\ndata: ${event.data}\n\n`;
}

/**
 * `GET /v1/sweeps/:id/events`: a Server-Sent Events stream of the sweep (authenticated like every
 * /v1 route, by the Authorization header). First a snapshot (or, with Last-Event-ID, only the
 * events missed), then an update whenever a trial or the sweep changes, and heartbeats.
 */
export function registerEventRoutes(
  app: ApiApp,
  context: RouteContext,
  options: EventRouteOptions = {},
): void {
  const hub = new SweepEventHub(context.store, options, (error, sweepId) => {
    app.log.warn({ err: error, sweepId }, 'sweep watcher poll failed');
  });
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const open = new Set<ServerResponse>();
  // Open streams would keep app.close() waiting forever: end them first.
  app.addHook('preClose', (done) => {
    for (const response of open) response.end();
    hub.close();
    done();
  });

  app.get(
    '/v1/sweeps/:id/events',
    {
      schema: {
        tags: ['sweeps'],
        summary:
          'Live sweep state as Server-Sent Events: a snapshot, then updates (changed trials, new epochs); honours Last-Event-ID',
        params: z.object({ id: z.string().max(100) }),
        headers: z.object({ 'last-event-id': z.string().max(100).optional() }).loose(),
        response: {
          200: z.string().describe('text/event-stream of SweepEvent JSON'),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const record = await loadSweep(context, request.params.id);
      const response = reply.raw;
      // Events published before the headers are out wait here.
      let pending: SerializedEvent[] | undefined = [];
      const send = (event: SerializedEvent): void => {
        if (pending !== undefined) {
          pending.push(event);
          return;
        }
        if (response.writableLength > maxBuffered) {
          response.destroy();
          return;
        }
        response.write(frame(event));
      };
      const subscription = await hub.subscribe(record.id, send, request.headers['last-event-id']);
      reply.hijack();
      if (request.raw.destroyed) {
        // The client left while the sweep was being read.
        subscription.close();
        response.destroy();
        return;
      }
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      response.write(`retry: ${RETRY_MS}\n\n`);
      const early = pending;
      pending = undefined;
      for (const event of [...subscription.initial, ...early]) send(event);
      const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), heartbeatMs);
      open.add(response);
      response.on('close', () => {
        clearInterval(heartbeat);
        open.delete(response);
        subscription.close();
      });
    },
  );
}
