import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { requireBinary } from './binaries.js';
import { freePort } from './free-port.js';
import { ServiceStartError } from './service-start-error.js';
import { rejectOnExit, startServiceProcess, type ServiceProcess } from './service-process.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

export const DEFAULT_PROMETHEUS_START_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 3;

export interface StartPrometheusOptions {
  /** prometheus.yml contents. Relative paths in it (rule_files) resolve against its directory. */
  readonly configYaml: string;
  /** Extra files written next to prometheus.yml (e.g. `{ 'rules/setrain.yml': '...' }`). */
  readonly files?: Readonly<Record<string, string>>;
  /** Extra `prometheus` arguments. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for /-/ready; default 30 s. */
  readonly startTimeoutMs?: number;
}

/** One series of an instant-query answer. */
export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** [unix seconds, value as Prometheus formats it] */
  readonly value: readonly [number, string];
}

export interface PromQueryData {
  readonly resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  readonly result: unknown;
}

export interface PromTarget {
  readonly scrapePool: string;
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Directory holding prometheus.yml and the extra files. */
  readonly configDir: string;
  readonly process: ServiceProcess;
  /** Runs an instant query; throws with Prometheus's error text on failure. */
  query(promql: string): Promise<PromQueryData>;
  /** `query` for vector results, returning the samples. */
  queryVector(promql: string): Promise<PromSample[]>;
  /** The active scrape targets and their health. */
  targets(): Promise<PromTarget[]>;
  /** Stops the server and removes its directories. Idempotent. */
  stop(): Promise<void>;
}

interface PromApiResponse<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

async function promApi<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as PromApiResponse<T>;
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`Prometheus ${url}: ${body.errorType ?? response.status} ${body.error ?? ''}`);
  }
  return body.data;
}

/**
 * Starts Debian's `prometheus` with `configYaml` on a free port of 127.0.0.1 (TSDB in a temp dir,
 * lifecycle API on) and waits for /-/ready. The server dies with this process.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = requireBinary('prometheus', 'prometheus');
  const dir = await tempDir('prometheus');
  const configDir = join(dir.path, 'config');
  await mkdir(configDir, { recursive: true });
  const configFile = join(configDir, 'prometheus.yml');
  await writeFile(configFile, options.configYaml);
  for (const [name, contents] of Object.entries(options.files ?? {})) {
    const path = resolve(configDir, name);
    if (!path.startsWith(configDir + sep)) {
      await dir.cleanup();
      throw new RangeError(`file name ${JSON.stringify(name)} leaves the config directory`);
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, contents);
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const service = startServiceProcess('prometheus', binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir.path, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(options.extraArgs ?? []),
    ]);
    try {
      await Promise.race([
        waitFor(async () => (await fetch(`${url}/-/ready`)).ok, {
          what: `prometheus /-/ready on ${url}`,
          timeoutMs: options.startTimeoutMs ?? DEFAULT_PROMETHEUS_START_TIMEOUT_MS,
          intervalMs: 100,
        }),
        rejectOnExit(service),
      ]);
    } catch (error) {
      await service.stop();
      lastError = new ServiceStartError(
        'prometheus',
        error instanceof Error ? error.message : String(error),
        service.output(),
        { cause: error },
      );
      if (service.output().includes('address already in use')) continue;
      await dir.cleanup();
      throw lastError;
    }
    const query = (promql: string): Promise<PromQueryData> =>
      promApi<PromQueryData>(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return {
      url,
      port,
      configDir,
      process: service,
      query,
      async queryVector(promql: string): Promise<PromSample[]> {
        const data = await query(promql);
        if (data.resultType !== 'vector') {
          throw new Error(`expected a vector from ${promql}, got ${data.resultType}`);
        }
        return data.result as PromSample[];
      },
      async targets(): Promise<PromTarget[]> {
        const data = await promApi<{ activeTargets: PromTarget[] }>(`${url}/api/v1/targets`);
        return data.activeTargets;
      },
      async stop() {
        await service.stop();
        await dir.cleanup();
      },
    };
  }
  await dir.cleanup();
  throw lastError;
}
