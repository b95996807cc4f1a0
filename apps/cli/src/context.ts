import type { Readable, Writable } from 'node:stream';

import type { S3Client } from '@aws-sdk/client-s3';

import type { ApiClient } from './api-client.js';
import type { CliConfig } from './config.js';

/** What every command gets: resolved settings, output streams, and lazily built clients. */
export interface CommandContext {
  config: CliConfig;
  /** The environment the CLI was given; `setrain local` passes it on to the services it starts. */
  env: Record<string, string | undefined>;
  /** Standard input (spec files given as `-`). */
  in: Readable;
  out: Writable & { isTTY?: boolean; columns?: number };
  err: Writable;
  api(): ApiClient;
  s3(): S3Client;
  /** Resolves after `ms`; injected so watch loops can be driven quickly in tests. */
  sleep(ms: number): Promise<void>;
}

/** Writes a value as one line of JSON (for --json). */
export function writeJson(ctx: CommandContext, value: unknown): void {
  ctx.out.write(`${JSON.stringify(value, null, 2)}\n`);
}
