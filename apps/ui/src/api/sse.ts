/**
 * Reads `GET /v1/sweeps/:id/events` with fetch (EventSource cannot send the Authorization header):
 * parses the SSE frames, reconnects after a drop with Last-Event-ID, and stops on a 401/404.
 */
import { type SweepEvent } from '@setrain/protocol';

import { markEvent } from '../perf-marks.js';
import { authHeaders, toRequestError, type ApiRequestError } from './client.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface SweepStreamHandlers {
  readonly onEvent: (event: SweepEvent) => void;
  readonly onState: (state: StreamState) => void;
  readonly onError: (error: ApiRequestError) => void;
}

/** Delay before reconnecting (the server's `retry:` overrides it). */
const DEFAULT_RETRY_MS = 2000;

/** Starts following a sweep; returns the function that stops it. */
export function watchSweep(sweepId: string, handlers: SweepStreamHandlers): () => void {
  const abort = new AbortController();
  let lastEventId: string | undefined;
  let retryMs = DEFAULT_RETRY_MS;

  const readFrames = async (body: ReadableStream<Uint8Array>): Promise<void> => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) lastEventId = line.slice(4);
          else if (line.startsWith('data: ')) data += line.slice(6);
          else if (line.startsWith('retry: ')) retryMs = Number(line.slice(7)) || retryMs;
        }
        if (data === '') continue;
        // For profiling (and the dashboard's performance test): when each event arrived.
        markEvent('sweep-event-received');
        handlers.onEvent(JSON.parse(data) as SweepEvent);
      }
    }
  };

  const run = async (): Promise<void> => {
    handlers.onState('connecting');
    while (!abort.signal.aborted) {
      try {
        const response = await fetch(`/v1/sweeps/${encodeURIComponent(sweepId)}/events`, {
          headers: {
            ...authHeaders(),
            ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}),
          },
          signal: abort.signal,
        });
        if (response.status === 401 || response.status === 404) {
          handlers.onError(await toRequestError(response));
          handlers.onState('stopped');
          return;
        }
        if (response.ok && response.body !== null) {
          handlers.onState('live');
          await readFrames(response.body);
        }
      } catch {
        // A dropped connection: reconnect below.
      }
      if (abort.signal.aborted) break;
      handlers.onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    handlers.onState('stopped');
  };
  void run();
  return () => {
    abort.abort();
  };
}
