import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Config } from '@setrain/storage';
import { fileURLToPath } from 'node:url';
import { ServiceStartError } from './service-start-error.js';
import { rejectOnExit, startServiceProcess, type ServiceProcess } from './service-process.js';
import { waitFor } from './wait-for.js';
import { tempDir } from './temp-dir.js';
import { uniqueName } from './unique-name.js';

/** s3rver checks request signatures against this fixed key pair (its documented defaults). */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface StartS3Options {
  /** How long to wait for s3rver to listen; default 15 s. */
  readonly startTimeoutMs?: number;
}

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Path-style config with s3rver's dummy credentials, ready for createS3Client(). */
  readonly config: S3Config;
  /** A client built from `config`, destroyed by stop(). */
  readonly client: S3Client;
  /** The s3rver child process (its output() helps when a request fails with a 500). */
  readonly process: ServiceProcess;
  /** The directory s3rver stores objects in (a temp dir, removed by stop()). */
  readonly dir: string;
  /** Creates a bucket (default: a fresh unique name) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Closes the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

// The same entry point `setrain local` runs (through tsx, like every test process).
const S3RVER_MAIN = fileURLToPath(import.meta.resolve('@setrain/cli/s3-server-main'));
const LISTENING_PATTERN = /s3rver listening on [\d.]+:(\d+)/;
export const DEFAULT_S3_START_TIMEOUT_MS = 15_000;

/**
 * The command line of an s3rver child process storing objects in `dir` on `port` (0: the OS
 * picks). `--openssl-legacy-provider`: see startS3.
 */
export function s3rverArgs(dir: string, port: number): string[] {
  return [
    '--conditions=source',
    '--import',
    'tsx',
    '--openssl-legacy-provider',
    S3RVER_MAIN,
    dir,
    String(port),
  ];
}

/** Path-style config with s3rver's dummy credentials for the server at `endpoint`. */
export function s3rverConfig(endpoint: string): S3Config {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    // s3rver predates the SDK's default CRC32 checksums (see @setrain/storage DEFAULT_CHECKSUM_MODE).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/**
 * Starts s3rver on a port of 127.0.0.1 chosen by the OS, storing objects in a temp dir. Give each
 * test its own bucket: `await s3.createBucket()`.
 *
 * s3rver runs in a child Node process with `--openssl-legacy-provider`: it encrypts ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers through that provider, so
 * in this process every truncated listing would fail with a 500. A separate process also keeps S3
 * answering while a test blocks its own event loop (e.g. a tfjs training step).
 */
export async function startS3(options: StartS3Options = {}): Promise<S3Server> {
  const dir = await tempDir('s3');
  const service = startServiceProcess('s3rver', process.execPath, s3rverArgs(dir.path, 0));
  let port: number;
  try {
    port = await Promise.race([
      waitFor(() => Number(LISTENING_PATTERN.exec(service.output())?.[1]) || undefined, {
        what: 's3rver to listen',
        timeoutMs: options.startTimeoutMs ?? DEFAULT_S3_START_TIMEOUT_MS,
        intervalMs: 20,
      }),
      rejectOnExit(service),
    ]);
  } catch (error) {
    await service.stop();
    await dir.cleanup();
    throw new ServiceStartError(
      's3rver',
      error instanceof Error ? error.message : String(error),
      service.output(),
      { cause: error },
    );
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const config = s3rverConfig(endpoint);
  const client = createS3Client(config);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    config,
    client,
    dir: dir.path,
    process: service,
    async createBucket(name = uniqueName('bucket')): Promise<string> {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        client.destroy();
        await service.stop();
        await dir.cleanup();
      })();
      return stopping;
    },
  };
}
