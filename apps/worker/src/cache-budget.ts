import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/** What one {@link evictToBudget} pass found and did. */
export interface EvictionReport {
  /** Bytes of the cache's files after the pass. */
  readonly bytes: number;
  readonly evictedFiles: number;
  readonly evictedBytes: number;
}

interface CachedFile {
  readonly path: string;
  readonly size: number;
  readonly usedAt: number;
}

/** Files still being written (`*.tmp`, `*.partial`) are neither counted nor evicted. */
const IN_PROGRESS = /\.(tmp|partial)$/;

/** Marks a cached file as just used: the least recently used files are evicted first. */
export async function touchCached(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/**
 * Deletes the least recently used files under `dir` (by modification time, which
 * {@link touchCached} renews on every hit) until their total size is at most `maxBytes`. Several
 * processes may share the directory: a file another one deleted first is simply skipped, and a
 * reader holding a file open keeps reading it after it is unlinked.
 */
export async function evictToBudget(dir: string, maxBytes: number): Promise<EvictionReport> {
  const files = await listFiles(dir);
  let bytes = files.reduce((sum, file) => sum + file.size, 0);
  let evictedFiles = 0;
  let evictedBytes = 0;
  files.sort((a, b) => a.usedAt - b.usedAt);
  for (const file of files) {
    if (bytes <= maxBytes) break;
    await rm(file.path, { force: true });
    bytes -= file.size;
    evictedFiles += 1;
    evictedBytes += file.size;
  }
  return { bytes, evictedFiles, evictedBytes };
}

async function listFiles(dir: string): Promise<CachedFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  const files: CachedFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || IN_PROGRESS.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    try {
      const info = await stat(path);
      files.push({ path, size: info.size, usedAt: info.mtimeMs });
    } catch {
      // Evicted by another process meanwhile.
    }
  }
  return files;
}
