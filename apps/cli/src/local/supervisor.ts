/**
 * The local stack's supervisor: starts each service in order and waits until it answers, keeps
 * them running (restart with backoff), records pids and URLs in the state file for `status` and
 * `down`, and stops them in reverse order: workers first (their trials go back to the queue,
 * resumable), then the API, S3 and Redis (which flushes its AOF on SIGTERM).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { z } from 'zod';

import { CliError, EXIT_CODES } from '../errors.js';
import { localUrls, writeJsonAtomic, type LocalHome, type LocalSettings } from './local-home.js';
import { localServices, type NodeLauncher } from './local-services.js';
import { portFree, processAlive, waitUntil } from './readiness.js';
import { SupervisedProcess } from './supervised-process.js';

export const DEFAULT_SERVICE_START_TIMEOUT_MS = 120_000;

/** run/state.json, written by a running supervisor. */
export const localStateSchema = z.object({
  supervisorPid: z.number().int(),
  startedAt: z.string(),
  ready: z.boolean(),
  urls: z.record(z.string(), z.string()),
  services: z.array(
    z.object({
      name: z.string(),
      pid: z.number().int().nullable(),
      restarts: z.number().int(),
      log: z.string(),
    }),
  ),
});
export type LocalState = z.infer<typeof localStateSchema>;

/** The state file, or undefined when there is none (or it is unreadable: a crashed writer). */
export async function readLocalState(home: LocalHome): Promise<LocalState | undefined> {
  try {
    const parsed = localStateSchema.safeParse(JSON.parse(await readFile(home.stateFile, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** How long to wait for a dead supervisor's services to go: its longest orphan grace and more. */
export const STALE_SERVICES_TIMEOUT_MS = 90_000;

/**
 * Stops the services a dead supervisor left behind, workers first (its watchdogs stop them on
 * their own, Redis and S3 only after a grace period; this does it now), waits until they are
 * gone and removes its state file.
 */
export async function cleanStaleState(home: LocalHome, state: LocalState): Promise<void> {
  const alive = state.services.filter((s) => s.pid !== null && processAlive(s.pid));
  const workersFirst = [
    ...alive.filter((s) => s.name.startsWith('worker-')),
    ...alive.filter((s) => !s.name.startsWith('worker-')).reverse(),
  ];
  for (const service of workersFirst) {
    const pid = service.pid ?? 0;
    try {
      process.kill(pid, 'SIGTERM'); // the watchdog shell passes TERM on and waits
    } catch {
      continue; // gone meanwhile
    }
    await waitUntil(() => !processAlive(pid), {
      timeoutMs: STALE_SERVICES_TIMEOUT_MS,
      what: `${service.name} (pid ${pid}) left by the previous supervisor to stop`,
    }).catch(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
  }
  await rm(home.stateFile, { force: true });
}

/** Options of {@link startSupervisor}. */
export interface SupervisorOptions {
  home: LocalHome;
  settings: LocalSettings;
  /** Environment the services inherit (the CLI's), under their own variables. */
  env: Record<string, string | undefined>;
  node: NodeLauncher;
  cwd: string;
  /** Progress and restart notices. */
  say: (line: string) => void;
  /** How long each service may take to answer. Default 120 s. */
  startTimeoutMs?: number;
}

/** A started stack. */
export interface RunningLocalStack {
  /** Stops every service (reverse order) and removes the state file; idempotent. */
  stop(): Promise<void>;
}

/** Starts the stack; on any failure stops what started and throws. */
export async function startSupervisor(options: SupervisorOptions): Promise<RunningLocalStack> {
  const { home, settings, say } = options;
  const previous = await readLocalState(home);
  if (previous !== undefined) {
    if (previous.supervisorPid !== process.pid && processAlive(previous.supervisorPid)) {
      throw new CliError(
        `the local stack is already running (supervisor pid ${previous.supervisorPid}); ` +
          '`setrain local status` shows it, `setrain local down` stops it',
        EXIT_CODES.usage,
      );
    }
    await cleanStaleState(home, previous);
  }
  const specs = localServices(home, settings, options.node);
  for (const [port, what] of [
    [settings.redisPort, '--redis-port'],
    [settings.s3Port, '--s3-port'],
    [settings.apiPort, '--api-port'],
  ] as const) {
    if (!(await portFree(port)))
      throw new CliError(
        `port ${port} on 127.0.0.1 is in use; stop what listens there or choose another with ` +
          `\`setrain local up ${what} <port>\` (it is remembered in ${home.settingsFile})`,
        EXIT_CODES.usage,
      );
  }
  const started: SupervisedProcess[] = [];
  let ready = false;
  const writeState = () =>
    writeJsonAtomic(home.stateFile, {
      supervisorPid: process.pid,
      startedAt: new Date().toISOString(),
      ready,
      urls: localUrls(settings),
      services: started.map((s, i) => ({
        name: s.name,
        pid: s.pid ?? null,
        restarts: s.restarts,
        log: join(home.logsDir, `${specs[i]?.name ?? s.name}.log`),
      })),
    } satisfies LocalState).catch(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const workers = started.filter((s) => s.name.startsWith('worker-'));
      await Promise.all(workers.map((w) => w.stop()));
      for (const service of started.filter((s) => !workers.includes(s)).reverse())
        await service.stop();
      await rm(home.stateFile, { force: true });
    })());
  try {
    for (const spec of specs) {
      const service = new SupervisedProcess({
        name: spec.name,
        command: spec.command,
        args: spec.args,
        env: { ...options.env, ...spec.env },
        cwd: options.cwd,
        orphanGraceSeconds: spec.orphanGraceSeconds,
        logFile: join(home.logsDir, `${spec.name}.log`),
        onEvent: (line) => {
          say(line);
          void writeState();
        },
      });
      started.push(service);
      service.start();
      await writeState();
      await waitUntil(spec.ready, {
        timeoutMs: options.startTimeoutMs ?? DEFAULT_SERVICE_START_TIMEOUT_MS,
        what: `${spec.readyWhat} (log: ${join(home.logsDir, `${spec.name}.log`)})`,
      });
      say(`  ${spec.name} is up`);
    }
    ready = true;
    await writeState();
    return { stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
