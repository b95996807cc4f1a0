import { connect } from 'node:net';
import { requireBinary } from './binaries.js';
import { freePort } from './free-port.js';
import { ServiceStartError } from './service-start-error.js';
import { rejectOnExit, startServiceProcess, type ServiceProcess } from './service-process.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

export const DEFAULT_REDIS_START_TIMEOUT_MS = 10_000;
/** Attempts when another process grabs the free port between freePort() and the bind. */
const PORT_ATTEMPTS = 3;

export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. ['--maxmemory-policy', 'noeviction']. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for PING to answer; default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The server's working directory (a temp dir, removed by stop()). */
  readonly dir: string;
  readonly process: ServiceProcess;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Sends PING over a raw socket; resolves true on +PONG. */
export function redisPing(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('PING timed out')));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.end();
        if (reply.startsWith('+PONG')) resolve(true);
        else reject(new Error(`unexpected PING reply ${JSON.stringify(reply.trim())}`));
      }
    });
    socket.once('error', reject);
  });
}

/**
 * Starts Debian's `redis-server` on a free port on 127.0.0.1 without persistence (no RDB, no AOF),
 * in a temp dir, and waits until it answers PING. The server dies with this process.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server');
  const host = '127.0.0.1';
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const dir = await tempDir('redis');
    const service = startServiceProcess('redis-server', binary, [
      '--port',
      String(port),
      '--bind',
      host,
      '--dir',
      dir.path,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...(options.extraArgs ?? []),
    ]);
    try {
      await Promise.race([
        waitFor(() => redisPing(host, port), {
          what: `redis-server PING on ${host}:${port}`,
          timeoutMs: options.startTimeoutMs ?? DEFAULT_REDIS_START_TIMEOUT_MS,
        }),
        rejectOnExit(service),
      ]);
    } catch (error) {
      await service.stop();
      await dir.cleanup();
      lastError = new ServiceStartError(
        'redis-server',
        error instanceof Error ? error.message : String(error),
        service.output(),
        { cause: error },
      );
      if (service.output().includes('Address already in use')) continue;
      throw lastError;
    }
    return {
      url: `redis://${host}:${port}`,
      host,
      port,
      dir: dir.path,
      process: service,
      async stop() {
        await service.stop();
        await dir.cleanup();
      },
    };
  }
  throw lastError;
}
