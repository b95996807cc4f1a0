import { connect, createServer, type Server, type Socket } from 'node:net';

import { trackProxiedConnection } from './proxied-connection.js';

/** A TCP proxy in front of a real service that can take the service away and bring it back. */
export interface OutageProxy {
  /** Port on 127.0.0.1 that forwards to the service while it is up. */
  readonly port: number;
  /** Drops every open connection and refuses new ones (ECONNREFUSED), as a dead server does. */
  down(): Promise<void>;
  /** Accepts connections again on the same port. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 forwarding every byte to `targetPort` on 127.0.0.1 (e.g. a
 * redis-server), for outage tests on a real service: clients see the server vanish and return
 * without the test killing it.
 */
export async function startOutageProxy(targetPort: number): Promise<OutageProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = async (port: number): Promise<number> => {
    const next = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      trackProxiedConnection(client, upstream, sockets);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', resolve);
    });
    server = next;
    const address = next.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    return address.port;
  };
  const close = async (): Promise<void> => {
    const current = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (current === undefined) return;
    await new Promise<void>((resolve) => {
      current.close(() => {
        resolve();
      });
    });
  };
  const port = await listen(0);
  return {
    port,
    down: close,
    up: async () => {
      if (server === undefined) await listen(port);
    },
    stop: close,
  };
}
