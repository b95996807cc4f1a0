import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3Config } from '@setrain/storage';
import S3rver from 's3rver';
import { tempDir } from './temp-dir.js';
import { uniqueName } from './unique-name.js';

/** s3rver checks request signatures against this fixed key pair (its documented defaults). */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface StartS3Options {
  /** Log every request to stdout (s3rver's own logger). Default false. */
  readonly verbose?: boolean;
}

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Path-style config with s3rver's dummy credentials, ready for createS3Client(). */
  readonly config: S3Config;
  /** A client built from `config`, destroyed by stop(). */
  readonly client: S3Client;
  /** The directory s3rver stores objects in (a temp dir, removed by stop()). */
  readonly dir: string;
  /** Creates a bucket (default: a fresh unique name) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Closes the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver in this process on a free port of 127.0.0.1, storing objects in a temp dir.
 * Give each test its own bucket: `await s3.createBucket()`.
 */
export async function startS3(options: StartS3Options = {}): Promise<S3Server> {
  const dir = await tempDir('s3');
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0, // the OS picks; no race with other processes
    directory: dir.path,
    silent: options.verbose !== true,
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const config: S3Config = {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    // s3rver predates the SDK's default CRC32 checksums (see @setrain/storage DEFAULT_CHECKSUM_MODE).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  const client = createS3Client(config);
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: address.port,
    config,
    client,
    dir: dir.path,
    async createBucket(name = uniqueName('bucket')): Promise<string> {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        client.destroy();
        await server.close();
        await dir.cleanup();
      })();
      return stopping;
    },
  };
}
