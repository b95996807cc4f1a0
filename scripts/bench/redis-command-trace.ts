// Which connection sends which Redis commands, per trial: bench:queue --trace-commands records a
// run with MONITOR and splits the commands by the role each client connection plays, so the two
// sides' work per trial can be compared role by role (INFO commandstats only has totals).
import { Redis } from 'ioredis';

import { round } from './stats.js';

/** What a connection does, judged from the commands it sent (MONITOR does not name clients). */
export type ConnectionRole =
  | 'job producer (controller)'
  | 'queue events'
  | 'BullMQ worker'
  | 'BullMQ worker (blocking wait)'
  | 'other (setrain worker: trial state, stops, heartbeats)';

/** One role's commands per trial. */
export interface RoleCommands {
  connections: number;
  /** Commands the clients sent (each MULTI, EXEC and pipelined command counts as one). */
  sentPerTrial: number;
  /** Commands run inside the Lua scripts these clients called. */
  insideLuaPerTrial: number;
  /** The sent commands by name (EVAL and EVALSHA by what the script does first), above 0.05. */
  sentByName: Record<string, number>;
}

interface ConnectionLog {
  sent: Map<string, number>;
  insideLua: Map<string, number>;
}

/** Records every command from `start()` to `stop()`; `stop` returns the split per trial. */
export class RedisCommandTrace {
  private readonly connections = new Map<string, ConnectionLog>();
  private lastScriptCaller: ConnectionLog | undefined;
  private monitor: Redis | undefined;

  private constructor() {}

  static async start(url: string): Promise<RedisCommandTrace> {
    const trace = new RedisCommandTrace();
    // ioredis' monitor() opens a connection of its own and resolves once Redis has answered OK.
    const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    trace.monitor = await client.monitor();
    client.disconnect();
    trace.monitor.on('monitor', (_time: string, args: string[], source: string) => {
      trace.record(args, source);
    });
    return trace;
  }

  /** Stops recording; the commands per trial of each role (setup included). */
  stop(trials: number): Record<string, RoleCommands> {
    this.monitor?.disconnect();
    const byRole = new Map<ConnectionRole, ConnectionLog[]>();
    for (const log of this.connections.values()) {
      const role = roleOf(log);
      byRole.set(role, [...(byRole.get(role) ?? []), log]);
    }
    const result: Record<string, RoleCommands> = {};
    for (const [role, logs] of byRole) result[role] = summarise(logs, trials);
    return result;
  }

  private record(args: readonly string[], source: string): void {
    const name = (args[0] ?? '').toUpperCase();
    if (source === 'lua') {
      if (this.lastScriptCaller !== undefined) increment(this.lastScriptCaller.insideLua, name);
      return;
    }
    let log = this.connections.get(source);
    if (log === undefined) {
      log = { sent: new Map(), insideLua: new Map() };
      this.connections.set(source, log);
    }
    if (name === 'EVAL' || name === 'EVALSHA') {
      this.lastScriptCaller = log;
      increment(log.sent, name === 'EVAL' ? `EVAL ${scriptLabel(args[1] ?? '')}` : 'EVALSHA');
    } else {
      increment(log.sent, name);
    }
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A script's first meaningful line, shortened: enough to tell setrain's scripts apart. */
function scriptLabel(body: string): string {
  // MONITOR escapes a script's newlines as the two characters \n.
  const line = body
    .split(/\\n|\n/)
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('--[['));
  return (line ?? '').slice(0, 48);
}

function roleOf(log: ConnectionLog): ConnectionRole {
  if (log.sent.has('XREAD')) return 'queue events';
  if (log.sent.has('BZPOPMIN')) return 'BullMQ worker (blocking wait)';
  if (log.insideLua.has('RPOPLPUSH')) return 'BullMQ worker';
  if (log.insideLua.has('LPUSH')) return 'job producer (controller)';
  return 'other (setrain worker: trial state, stops, heartbeats)';
}

function summarise(logs: readonly ConnectionLog[], trials: number): RoleCommands {
  const sent = new Map<string, number>();
  let sentTotal = 0;
  let insideLua = 0;
  for (const log of logs) {
    for (const [name, calls] of log.sent) {
      sent.set(name, (sent.get(name) ?? 0) + calls);
      sentTotal += calls;
    }
    for (const calls of log.insideLua.values()) insideLua += calls;
  }
  const rows = [...sent]
    .map(([name, calls]): [string, number] => [name, round(calls / trials, 2)])
    .filter(([, perTrial]) => perTrial >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  return {
    connections: logs.length,
    sentPerTrial: round(sentTotal / trials, 2),
    insideLuaPerTrial: round(insideLua / trials, 2),
    sentByName: Object.fromEntries(rows),
  };
}
