/**
 * `setrain local up | down | status | logs`: a persistent setrain stack on this machine (Redis,
 * an S3-compatible server, the API and workers) under SETRAIN_HOME. `up` runs the supervisor in
 * the foreground (Ctrl-C stops everything cleanly) or, with --detach, in the background.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { CliError, EXIT_CODES } from '../errors.js';
import { writeLocalCliConfig } from '../local/cli-config-file.js';
import {
  localHome,
  localUrls,
  readLocalSettings,
  resolveLocalSettings,
  type LocalHome,
  type LocalSettings,
  type LocalSettingsOverrides,
} from '../local/local-home.js';
import { httpOk, processAlive, waitUntil } from '../local/readiness.js';
import { cleanStaleState, readLocalState, startSupervisor } from '../local/supervisor.js';

/** How long `up --detach` waits for the stack to answer. */
export const DETACHED_START_TIMEOUT_MS = 300_000;
/** How long `down` waits for the supervisor to stop the services. */
export const DEFAULT_DOWN_TIMEOUT_MS = 180_000;

export interface LocalUpOptions extends LocalSettingsOverrides {
  detach?: boolean;
}

function printUrls(ctx: CommandContext, home: LocalHome, settings: LocalSettings): void {
  const urls = localUrls(settings);
  const say = (line: string) => ctx.out.write(`${line}\n`);
  say(
    `setrain is running (${settings.workers} worker(s) x ${settings.threadsPerWorker} thread(s)):`,
  );
  say(`  API        ${urls.api}`);
  say(`  API docs   ${urls.docs}`);
  say(`  metrics    ${urls.metrics}`);
  say(`  dashboard  ${urls.ui}`);
  say(`  S3         ${urls.s3} (bucket ${settings.bucket})`);
  say(`  data, logs ${home.root}`);
  say(`try: setrain dataset upload ./my-images s3://${settings.bucket}/datasets/mine`);
}

async function pointCliAtStack(
  ctx: CommandContext,
  home: LocalHome,
  settings: LocalSettings,
): Promise<void> {
  if (await writeLocalCliConfig(home, settings, ctx.config.configPath)) {
    ctx.out.write(`the setrain CLI now uses this stack (${ctx.config.configPath})\n`);
  } else {
    ctx.out.write(
      `${ctx.config.configPath} is your own, so it was left alone; use this stack with ` +
        `--config ${join(home.root, 'cli-config.json')} (or SETRAIN_CONFIG)\n`,
    );
  }
}

/** `setrain local up`: starts the stack and supervises it until Ctrl-C (or `down`). */
export async function localUp(ctx: CommandContext, options: LocalUpOptions): Promise<void> {
  const home = localHome(ctx.config.home);
  const settings = await resolveLocalSettings(home, options);
  if (options.detach) return upDetached(ctx, home, settings);
  ctx.out.write(`starting the local stack in ${home.root}\n`);
  const startedAt = Date.now();
  const stack = await startSupervisor({
    home,
    settings,
    env: ctx.env,
    node: { execPath: process.execPath, execArgv: process.execArgv },
    cwd: process.cwd(),
    say: (line) => ctx.out.write(`${line}\n`),
  });
  await pointCliAtStack(ctx, home, settings);
  printUrls(ctx, home, settings);
  ctx.out.write(`up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; Ctrl-C stops it\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGHUP', () => {
      resolve('SIGHUP');
    });
  });
  ctx.out.write(
    `${signal}: stopping the workers (their trials go back to the queue), then the API, S3 and Redis\n`,
  );
  await stack.stop();
  ctx.out.write('stopped; `setrain local up` resumes unfinished sweeps\n');
}

/** Starts `setrain local up` in the background (its output in logs/supervisor.log), waits for it. */
async function upDetached(
  ctx: CommandContext,
  home: LocalHome,
  settings: LocalSettings,
): Promise<void> {
  const logFile = join(home.logsDir, 'supervisor.log');
  const log = openSync(logFile, 'a');
  const script = process.argv[1];
  if (script === undefined) throw new CliError('cannot tell how this CLI was started');
  const child = spawn(process.execPath, [...process.execArgv, script, 'local', 'up'], {
    cwd: process.cwd(),
    env: ctx.env,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const ready = async () => exited || (await readLocalState(home))?.ready === true;
  try {
    await waitUntil(ready, {
      timeoutMs: DETACHED_START_TIMEOUT_MS,
      what: `the local stack to start (log: ${logFile})`,
      intervalMs: 500,
    });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_CODES.failure);
  }
  if (exited) throw new CliError(`the supervisor exited; see ${logFile}`, EXIT_CODES.failure);
  await pointCliAtStack(ctx, home, settings);
  printUrls(ctx, home, settings);
  ctx.out.write(
    `running in the background (supervisor pid ${child.pid}); \`setrain local down\` stops it\n`,
  );
}

/** `setrain local down`: asks the supervisor to stop everything and waits until it has. */
export async function localDown(ctx: CommandContext, options: { json?: boolean }): Promise<void> {
  const home = localHome(ctx.config.home);
  const state = await readLocalState(home);
  if (state === undefined) {
    ctx.out.write('the local stack is not running\n');
    return;
  }
  if (!processAlive(state.supervisorPid)) {
    await cleanStaleState(home, state);
    ctx.out.write('the supervisor was gone; stopped what it had left\n');
    return;
  }
  process.kill(state.supervisorPid, 'SIGTERM');
  const started = Date.now();
  await waitUntil(() => !processAlive(state.supervisorPid), {
    timeoutMs: DEFAULT_DOWN_TIMEOUT_MS,
    what: `supervisor ${state.supervisorPid} to stop`,
    intervalMs: 200,
  });
  const seconds = (Date.now() - started) / 1000;
  if (options.json) writeJson(ctx, { stopped: true, seconds });
  else ctx.out.write(`stopped in ${seconds.toFixed(1)} s\n`);
}

/** `setrain local status`: is it running, each service's pid and restarts, the URLs. */
export async function localStatus(ctx: CommandContext, options: { json?: boolean }): Promise<void> {
  const home = localHome(ctx.config.home);
  const state = await readLocalState(home);
  const running = state !== undefined && processAlive(state.supervisorPid);
  const settings = await readLocalSettings(home);
  const apiReady =
    running && settings !== undefined
      ? await httpOk(`${localUrls(settings).api}/readyz`).catch(() => false)
      : false;
  const services = (state?.services ?? []).map((s) => ({
    ...s,
    alive: running && s.pid !== null && processAlive(s.pid),
  }));
  if (options.json) {
    writeJson(ctx, { running, apiReady, home: home.root, urls: state?.urls ?? null, services });
  } else if (!running) {
    throw new CliError(
      `the local stack is not running (SETRAIN_HOME ${home.root}); start it with \`setrain local up\``,
      EXIT_CODES.notFound,
    );
  } else {
    ctx.out.write(
      `running (supervisor pid ${state.supervisorPid}), API ${apiReady ? 'ready' : 'not ready'}\n`,
    );
    for (const s of services)
      ctx.out.write(
        `  ${s.name.padEnd(10)} ${s.alive ? 'up  ' : 'down'} pid ${String(s.pid ?? '-').padEnd(8)} restarts ${s.restarts}\n`,
      );
    for (const [name, url] of Object.entries(state.urls))
      ctx.out.write(`  ${name.padEnd(10)} ${url}\n`);
  }
}

/** `setrain local logs [service]`: the last lines of each service's log (or of one). */
export async function localLogs(
  ctx: CommandContext,
  service: string | undefined,
  options: { lines: number },
): Promise<void> {
  const home = localHome(ctx.config.home);
  const files = (await readdir(home.logsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.log'))
    .sort();
  const names = files.map((f) => basename(f, '.log'));
  if (service !== undefined && !names.includes(service)) {
    throw new CliError(
      names.length === 0
        ? `no logs in ${home.logsDir} yet; start the stack with \`setrain local up\``
        : `no log for "${service}"; services with logs: ${names.join(', ')}`,
      EXIT_CODES.usage,
    );
  }
  for (const name of service !== undefined ? [service] : names) {
    const text = await readFile(join(home.logsDir, `${name}.log`), 'utf8');
    const tail = text.trimEnd().split('\n').slice(-options.lines);
    if (service === undefined) ctx.out.write(`==> ${name} <==\n`);
    ctx.out.write(`${tail.join('\n')}\n`);
  }
}
