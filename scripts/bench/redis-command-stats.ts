// How many commands a redis-server ran, by command, from INFO commandstats, and its CPU time:
// what bench:queue reports per trial for each side (on a loaded machine, work per trial is steadier
// than trials/s).
import { Redis } from 'ioredis';

/** Calls per command name (commands run inside Lua scripts are counted too, as Redis does). */
export type CommandCounts = Map<string, number>;

/** The server's INFO commandstats calls per command, and its CPU seconds, since it started. */
export async function commandCounts(url: string): Promise<{ counts: CommandCounts; cpuS: number }> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await redis.info('commandstats');
    const counts: CommandCounts = new Map();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      counts.set(match[1] ?? '', Number(match[2]));
    }
    const cpu = await redis.info('cpu');
    const seconds = (name: string): number =>
      Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
    return { counts, cpuS: seconds('used_cpu_user') + seconds('used_cpu_sys') };
  } finally {
    redis.disconnect();
  }
}

/**
 * Commands per trial between two snapshots, by command, most frequent first (those above 0.05 per
 * trial), with their total under `total`; INFO's own calls are left out.
 */
export function commandsPerTrial(
  before: CommandCounts,
  after: CommandCounts,
  trials: number,
): Record<string, number> {
  const rows: [string, number][] = [];
  let total = 0;
  for (const [name, calls] of after) {
    if (name === 'info') continue;
    const perTrial = (calls - (before.get(name) ?? 0)) / trials;
    total += perTrial;
    if (perTrial >= 0.05) rows.push([name, Math.round(perTrial * 10) / 10]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  return { total: Math.round(total * 10) / 10, ...Object.fromEntries(rows) };
}
