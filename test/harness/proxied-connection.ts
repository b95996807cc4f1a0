import type { Socket } from 'node:net';

/**
 * Tracks a proxied connection (the client's socket and the one to the service) in `open`, and
 * destroys both as soon as either closes or fails, so a proxy's stop() finds only live sockets.
 */
export function trackProxiedConnection(client: Socket, upstream: Socket, open: Set<Socket>): void {
  open.add(client).add(upstream);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on('close', close).on('error', close);
  upstream.on('close', close).on('error', close);
}
