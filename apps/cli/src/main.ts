import { randomUUID } from 'node:crypto';

import type { S3Client } from '@aws-sdk/client-s3';
import { StorageError, createS3Client } from '@setrain/storage';
import { CommanderError } from 'commander';

import { ApiClient } from './api-client.js';
import { loadCliConfig } from './config.js';
import type { CommandContext } from './context.js';
import { CliError, EXIT_CODES, type ExitCode } from './errors.js';
import { buildProgram } from './program.js';

const STORAGE_EXIT_CODES: Record<StorageError['code'], ExitCode> = {
  S3_URI_INVALID: EXIT_CODES.usage,
  S3_OBJECT_NOT_FOUND: EXIT_CODES.notFound,
  S3_OBJECT_TOO_LARGE: EXIT_CODES.rejected,
  S3_COPY_SOURCE_TOO_LARGE: EXIT_CODES.rejected,
  S3_BUCKET_NOT_FOUND: EXIT_CODES.notFound,
  S3_OBJECT_JSON_INVALID: EXIT_CODES.rejected,
  S3_CONFIG_INVALID: EXIT_CODES.usage,
  CHECKSUM_MISMATCH: EXIT_CODES.checksum,
  DATASET_INVALID: EXIT_CODES.rejected,
  MODEL_ARTIFACTS_INVALID: EXIT_CODES.rejected,
};

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** Runs the CLI with `argv`; returns the exit code instead of exiting, so tests and the demo can call it. */
export async function runCli(
  argv: readonly string[],
  io: {
    env: Record<string, string | undefined>;
    in: CommandContext['in'];
    out: CommandContext['out'];
    err: CommandContext['err'];
  },
): Promise<ExitCode> {
  const clients: { s3?: S3Client } = {};
  const program = buildProgram(async (flags) => {
    const config = await loadCliConfig({ flags, env: io.env });
    return {
      config,
      env: io.env,
      in: io.in,
      out: io.out,
      err: io.err,
      api: lazy(() => new ApiClient({ baseUrl: config.apiUrl, apiKey: config.apiKey })),
      s3: lazy(() => (clients.s3 = createS3Client(config.s3))),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  });
  program.configureOutput({
    writeOut: (s) => io.out.write(s),
    writeErr: (s) => io.err.write(s),
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_CODES.ok;
  } catch (err) {
    return reportError(err, io.err, io.env.SETRAIN_DEBUG !== undefined);
  } finally {
    clients.s3?.destroy();
  }
}

function reportError(err: unknown, stderr: CommandContext['err'], debug: boolean): ExitCode {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help text).
    if (err.exitCode === 0) return EXIT_CODES.ok;
    return EXIT_CODES.usage;
  }
  if (err instanceof CliError) {
    stderr.write(`setrain: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
    return err.exitCode;
  }
  if (err instanceof StorageError) {
    stderr.write(`setrain: ${err.message}\n`);
    return STORAGE_EXIT_CODES[err.code];
  }
  const e = err as NodeJS.ErrnoException & { $metadata?: unknown };
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.name === 'TimeoutError') {
    stderr.write(
      `setrain: cannot reach S3 (${e.code ?? e.name}); check S3_ENDPOINT or the config file's s3.endpoint\n`,
    );
    return EXIT_CODES.unreachable;
  }
  const id = randomUUID().slice(0, 8);
  stderr.write(
    `setrain: unexpected error (${id}): ${e.message ?? String(err)}` +
      (debug ? `\n${e.stack ?? ''}` : '; set SETRAIN_DEBUG=1 for details') +
      '\n',
  );
  return EXIT_CODES.failure;
}
