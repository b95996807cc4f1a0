import { createServer } from 'node:net';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago. Another process can take it before the
 * caller binds it, so service starters retry on "address in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}
