import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it (idempotent). */
  cleanup(): Promise<void>;
}

/** A fresh directory under the OS temp dir, named `setrain-<label>-XXXXXX`. */
export async function tempDir(label = 'test'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `setrain-${label}-`));
  return {
    path,
    cleanup: () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
  };
}
