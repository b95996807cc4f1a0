/**
 * One service of the local stack, kept running: started under the watchdog shell (it dies with
 * the supervisor), its output appended to a log file, restarted with exponential backoff when it
 * exits on its own, stopped with TERM (then KILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { WATCHDOG_SCRIPT } from './watchdog.js';

export const DEFAULT_RESTART_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_RESTART_BACKOFF_MS = 30_000;
/** A run this long resets the backoff: the service was healthy, this crash is a new one. */
export const DEFAULT_HEALTHY_RUN_MS = 60_000;
export const DEFAULT_STOP_GRACE_MS = 30_000;

/** Options of {@link SupervisedProcess}. */
export interface SupervisedProcessOptions {
  /** Short name (`api`, `worker-1`), used in logs and the state file. */
  name: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Seconds the service outlives a supervisor that died without stopping it. Default 0. */
  orphanGraceSeconds?: number;
  /** File the service's stdout and stderr are appended to. */
  logFile: string;
  /** First restart delay; doubles per consecutive crash. Default 1 s. */
  restartBackoffMs?: number;
  /** Upper bound of the restart delay. Default 30 s. */
  maxRestartBackoffMs?: number;
  /** How long stop() waits after TERM before KILL. Default 30 s (a worker checkpoints first). */
  stopGraceMs?: number;
  /** Told about every unexpected exit and restart. */
  onEvent?: (line: string) => void;
}

/** A service the supervisor keeps running until stop(). */
export class SupervisedProcess {
  readonly name: string;
  private child: ChildProcess | undefined;
  private childExit: Promise<void> = Promise.resolve();
  private stopping = false;
  private restartCount = 0;
  private consecutiveCrashes = 0;
  private readonly wake = new AbortController();

  constructor(private readonly options: SupervisedProcessOptions) {
    this.name = options.name;
  }

  /** pid of the watchdog shell (it leads the service's process group); undefined between runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Starts the service and keeps restarting it until stop(). */
  start(): void {
    this.spawnOnce();
  }

  private spawnOnce(): void {
    const log = openSync(this.options.logFile, 'a');
    const startedAt = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(
        '/bin/sh',
        [
          '-c',
          WATCHDOG_SCRIPT,
          this.name,
          String(this.options.orphanGraceSeconds ?? 0),
          this.options.command,
          ...this.options.args,
        ],
        {
          cwd: this.options.cwd,
          env: this.options.env,
          stdio: ['pipe', log, log],
          // Its own process group: a Ctrl-C in the terminal reaches the supervisor alone, which
          // then stops the services in order (workers first, Redis last).
          detached: true,
        },
      );
    } finally {
      closeSync(log);
    }
    this.child = child;
    this.childExit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        const ranMs = Date.now() - startedAt;
        this.consecutiveCrashes = ranMs >= DEFAULT_HEALTHY_RUN_MS ? 1 : this.consecutiveCrashes + 1;
        const delay = Math.min(
          (this.options.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS) *
            2 ** (this.consecutiveCrashes - 1),
          this.options.maxRestartBackoffMs ?? DEFAULT_MAX_RESTART_BACKOFF_MS,
        );
        this.options.onEvent?.(
          `${this.name} exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}) after ` +
            `${Math.round(ranMs / 1000)} s; restarting in ${delay / 1000} s (log: ${this.options.logFile})`,
        );
        void sleep(delay, undefined, { signal: this.wake.signal }).then(
          () => {
            if (this.stopping) return;
            this.restartCount++;
            this.spawnOnce();
            this.options.onEvent?.(`${this.name} restarted (restart ${this.restartCount})`);
          },
          () => undefined,
        );
      });
    });
    child.once('error', (err) => this.options.onEvent?.(`${this.name}: ${err.message}`));
  }

  /** TERM (the shell passes it on and waits), then KILL the group after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const grace = new AbortController();
    const timedOut = await Promise.race([
      this.childExit.then(() => false),
      sleep(this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, true, { signal: grace.signal }),
    ]);
    grace.abort();
    if (timedOut && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.childExit;
    }
  }
}
