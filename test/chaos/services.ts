/**
 * Services the chaos suite kills and brings back: each keeps its port and data directory across
 * restarts, so clients reconnect to the same address and find what was persisted (Redis's AOF,
 * s3rver's objects). Built on the harness's watchdogged processes: nothing outlives the runner.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { createS3Client, type S3Config } from '@setrain/storage';
import { Redis } from 'ioredis';

import {
  freePort,
  redisPing,
  rejectOnExit,
  requireBinary,
  s3rverArgs,
  s3rverConfig,
  startServiceProcess,
  waitFor,
  type ServiceProcess,
  type TempDir,
} from '../harness/index.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 20_000;

/** A process that can be SIGKILLed, SIGSTOPped or stopped, and started again on the same port. */
export class RestartableService {
  private current: ServiceProcess | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly launch: () => ServiceProcess,
    private readonly ready: () => Promise<unknown>,
  ) {}

  get process(): ServiceProcess | undefined {
    return this.current;
  }

  async start(): Promise<void> {
    const service = this.launch();
    this.current = service;
    await Promise.race([
      waitFor(this.ready, {
        what: `${this.name} on port ${this.port}`,
        timeoutMs: START_TIMEOUT_MS,
      }),
      rejectOnExit(service),
    ]).catch((error: unknown) => {
      throw new Error(`${this.name} did not start: ${String(error)}\n${service.output()}`);
    });
  }

  /** SIGKILL (no shutdown, no flush beyond what the service already made durable). */
  async kill(): Promise<void> {
    const service = this.current;
    if (service === undefined || service.exit() !== undefined) return;
    process.kill(-service.pid, 'SIGKILL');
    await waitFor(() => Promise.resolve(service.exit() !== undefined), {
      what: `${this.name} to die`,
    });
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }
}

/** redis-server with AOF (`appendfsync always`: an acknowledged write survives SIGKILL). */
export async function startAofRedis(
  work: TempDir,
  options: { name?: string; port?: number; extraArgs?: string[] } = {},
): Promise<RestartableService> {
  const binary = requireBinary('redis-server', 'redis-server');
  const port = options.port ?? (await freePort());
  const name = options.name ?? 'redis';
  const dir = join(work.path, `${name}-${port}`);
  await mkdir(dir, { recursive: true });
  const service = new RestartableService(
    name,
    port,
    () =>
      startServiceProcess(name, binary, [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--daemonize',
        'no',
        ...(options.extraArgs ?? []),
      ]),
    () => redisPing(HOST, port),
  );
  await service.start();
  return service;
}

/** s3rver in its own process, restartable on its port and object directory. */
export interface RestartableS3 {
  readonly service: RestartableService;
  readonly endpoint: string;
  readonly config: S3Config;
  readonly dir: string;
}

export async function startRestartableS3(work: TempDir): Promise<RestartableS3> {
  const port = await freePort();
  const dir = join(work.path, 's3');
  await mkdir(dir, { recursive: true });
  const service: RestartableService = new RestartableService(
    's3rver',
    port,
    () => startServiceProcess('s3rver', process.execPath, s3rverArgs(dir, port)),
    () => Promise.resolve(/s3rver listening on/.test(service.process?.output() ?? '')),
  );
  await service.start();
  const endpoint = `http://${HOST}:${port}`;
  return {
    service,
    endpoint,
    dir,
    config: s3rverConfig(endpoint),
  };
}

export function s3Client(s3: RestartableS3): ReturnType<typeof createS3Client> {
  return createS3Client(s3.config);
}

/** Name of the master the chaos suite's sentinels monitor. */
export const SENTINEL_MASTER = 'setrain-chaos';
const SENTINELS = 3;

/** One primary, one replica, three sentinels (Debian `redis-sentinel`), all on 127.0.0.1. */
export interface SentinelTopology {
  readonly primary: RestartableService;
  readonly replica: RestartableService;
  readonly sentinels: RestartableService[];
  /** `host:port,...` for REDIS_SENTINELS. */
  readonly sentinelList: string;
  /** The port of the server the sentinels name as master now. */
  masterPort(): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startSentinelTopology(work: TempDir): Promise<SentinelTopology> {
  const sentinelBinary = requireBinary('redis-sentinel', 'redis-sentinel');
  const primary = await startAofRedis(work, { name: 'redis-primary' });
  const replica = await startAofRedis(work, {
    name: 'redis-replica',
    extraArgs: ['--replicaof', HOST, String(primary.port)],
  });
  const sentinels: RestartableService[] = [];
  for (let i = 0; i < SENTINELS; i++) {
    const port = await freePort();
    const conf = join(work.path, `sentinel-${port}.conf`);
    // Sentinel rewrites its config file (it records the replicas and the epoch): a file of its own.
    await writeFile(
      conf,
      [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${work.path}`,
        `sentinel monitor ${SENTINEL_MASTER} ${HOST} ${primary.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = new RestartableService(
      `sentinel-${i + 1}`,
      port,
      () => startServiceProcess(`sentinel-${i + 1}`, sentinelBinary, [conf]),
      () => redisPing(HOST, port),
    );
    await sentinel.start();
    sentinels.push(sentinel);
  }
  const first = sentinels[0];
  return {
    primary,
    replica,
    sentinels,
    sentinelList: sentinels.map((s) => `${HOST}:${s.port}`).join(','),
    async masterPort() {
      if (first === undefined) return undefined;
      const client = new Redis({ host: HOST, port: first.port, lazyConnect: true });
      try {
        await client.connect();
        const reply = (await client.call(
          'SENTINEL',
          'get-master-addr-by-name',
          SENTINEL_MASTER,
        )) as [string, string] | null;
        return reply === null ? undefined : Number(reply[1]);
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      for (const service of [...sentinels, replica, primary]) await service.stop();
    },
  };
}
