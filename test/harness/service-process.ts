import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// The watchdog shell that TERMs the service when this process dies (SIGKILL included).
import { WATCHDOG_SCRIPT } from '@setrain/cli/watchdog';

export const DEFAULT_STOP_TIMEOUT_MS = 5_000;
/** Bytes of a service's output kept for error messages. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

export interface ServiceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly name: string;
  /** pid of the watchdog shell, which leads the service's process group. */
  readonly pid: number;
  /** Resolves when the service (and its watchdog) has exited. */
  readonly exited: Promise<ServiceExit>;
  /** The exit, once it happened. */
  exit(): ServiceExit | undefined;
  /** The last 16 KiB the service printed (stdout and stderr interleaved). */
  output(): string;
  /** TERM, then KILL after `timeoutMs`; resolves once the process group is gone. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', () => {
    for (const child of running) killGroup(child, 'SIGTERM');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const child of running) killGroup(child, 'SIGTERM');
      // Our listener suppressed the default action. If nobody else handles the signal (a demo
      // script may shut down gracefully), re-raise it so the process still dies by it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Starts `command args` as a background service that cannot outlive this process. The child is
 * unref'd: a test that forgets stop() does not hang the runner; the exit hook and the watchdog
 * stop it.
 */
export function startServiceProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { readonly cwd?: string } = {},
): ServiceProcess {
  installExitHooks();
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, name, '0', command, ...args], {
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // own process group, so stop() can signal the service and the watchdog at once
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  running.add(child);
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitInfo: ServiceExit | undefined;
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    // Pipes are sockets; unref them too, or they keep the event loop alive.
    if (stream instanceof Socket) stream.unref();
  }
  let stopping: Promise<void> | undefined;
  const pid = child.pid;
  return {
    name,
    pid,
    exited,
    exit: () => exitInfo,
    output: () => tail,
    stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
      stopping ??= (async () => {
        if (exitInfo !== undefined) return;
        child.ref(); // keep the event loop alive until the service is gone
        // TERM the shell only: it passes TERM on and waits for the service.
        child.kill('SIGTERM');
        const timer = new AbortController();
        const timedOut = await Promise.race([
          exited.then(() => false),
          sleep(timeoutMs, true, { signal: timer.signal }).catch(() => false),
        ]);
        timer.abort();
        if (timedOut) {
          killGroup(child, 'SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}

/** Rejects when the service exits; used to stop waiting for readiness of a dead process. */
export async function rejectOnExit(service: ServiceProcess): Promise<never> {
  const exit = await service.exited;
  throw new Error(
    `${service.name} exited (code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'})`,
  );
}
