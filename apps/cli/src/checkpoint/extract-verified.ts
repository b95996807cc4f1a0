import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { hashingTransform } from '@setrain/storage';
import tar from 'tar-stream';

import { CliError, EXIT_CODES } from '../errors.js';
import type { PlannedFile } from './download-plan.js';

/** What was extracted and checked. */
export interface ExtractedFile extends PlannedFile {
  readonly verified: true;
}

/**
 * Extracts a best-trial tar into `dir` (a fresh staging folder) and checks it is exactly `plan`:
 * no other entry, none missing, every size and sha256 as planned. A stream that breaks or ends
 * early is an incomplete download (exit 9); a wrong byte is a checksum mismatch (exit 7).
 */
export async function extractVerified(
  source: NodeJS.ReadableStream,
  dir: string,
  plan: readonly PlannedFile[],
): Promise<ExtractedFile[]> {
  const byName = new Map(plan.map((file) => [file.tarName, file]));
  const seen = new Map<string, { bytes: number; sha256: string }>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    // tar-stream destroys the entry with the source's error when the download breaks off; until a
    // pipeline is attached (mkdir may still be pending) nothing else would listen, and an unheard
    // 'error' crashes the CLI. The outer pipeline reports the break (exit 9).
    stream.on('error', () => undefined);
    const file = byName.get(header.name);
    if (header.type !== 'file' || file === undefined || seen.has(header.name)) {
      stream.resume();
      next(
        new CliError(
          `the download holds ${header.name} (${header.type ?? 'entry'}), which the API did not list; nothing was written`,
          EXIT_CODES.checksum,
        ),
      );
      return;
    }
    const target = join(dir, file.path);
    const hashing = hashingTransform();
    mkdir(dirname(target), { recursive: true })
      .then(() => pipeline(stream, hashing.stream, createWriteStream(target)))
      .then(
        () => {
          seen.set(header.name, { bytes: hashing.size(), sha256: hashing.digest() });
          next();
        },
        (error: unknown) => {
          next(error as Error);
        },
      );
  });
  try {
    await pipeline(source, extract);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `the download was cut short: the stream broke off (${(error as Error).message}) before every file had arrived; nothing was written. Run the command again`,
      EXIT_CODES.incomplete,
    );
  }
  return plan.map((file) => {
    const got = seen.get(file.tarName);
    if (got === undefined) {
      throw new CliError(
        `the download ended without ${file.path}, which the API lists; nothing was written. Run the command again`,
        EXIT_CODES.incomplete,
      );
    }
    if (got.bytes !== file.bytes || got.sha256 !== file.sha256) {
      throw new CliError(
        `sha256 mismatch for ${file.path}: expected ${file.sha256} (${file.bytes} bytes), got ${got.sha256} (${got.bytes} bytes); nothing was written`,
        EXIT_CODES.checksum,
      );
    }
    return { ...file, verified: true as const };
  });
}
