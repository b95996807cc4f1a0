import { createServer, connect, type Server, type Socket } from 'node:net';

import { trackProxiedConnection } from './proxied-connection.js';

/** A TCP proxy in front of a real service that can break a response off mid-stream. */
export interface CuttingProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /**
   * The next request whose first line contains `pattern` has its connection destroyed after
   * `afterBytes` bytes of the answer (status line and headers included) have gone back.
   */
  cutNext(pattern: string, afterBytes: number): void;
  /** How many responses were cut so far. */
  readonly cuts: number;
  stop(): Promise<void>;
}

/**
 * Starts a proxy on 127.0.0.1 forwarding to `target` (`http://host:port`), for fault injection on
 * real services: an S3 body that breaks off mid-stream, as a dying server or network does.
 */
export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  let armed: { pattern: string; afterBytes: number } | undefined;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    trackProxiedConnection(client, upstream, sockets);
    let cutAt: number | undefined;
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      const firstLine = chunk.subarray(0, chunk.indexOf('\r\n')).toString('latin1');
      if (armed !== undefined && firstLine.includes(armed.pattern)) {
        cutAt = sent + armed.afterBytes;
        armed = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutAt !== undefined && sent + chunk.length > cutAt) {
        client.write(chunk.subarray(0, cutAt - sent), () => client.destroy());
        upstream.destroy();
        cuts += 1;
        cutAt = undefined;
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cutNext(pattern, afterBytes) {
      armed = { pattern, afterBytes };
    },
    get cuts() {
      return cuts;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
