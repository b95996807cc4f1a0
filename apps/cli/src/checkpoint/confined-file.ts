import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

import { CliError, EXIT_CODES } from '../errors.js';

/**
 * Reads a file that a checkpoint's own (untrusted) model.json names, confined to the checkpoint
 * folder: absolute paths, `..` segments, links leading outside the folder and anything but a
 * regular file (a path to /dev/zero would exhaust memory) are refused with a usage error.
 * `what` names the file in messages ("weights file").
 */
export async function readConfinedFile(dir: string, path: string, what: string): Promise<Buffer> {
  const shown = join(dir, path);
  if (path === '' || isAbsolute(path) || /^[a-zA-Z]:/.test(path)) {
    throw refused(what, shown, 'it must be a path relative to the checkpoint folder');
  }
  if (path.split(/[\\/]/).some((segment) => segment === '..')) {
    throw refused(what, shown, "a '..' segment would leave the checkpoint folder");
  }
  let real: string;
  let root: string;
  try {
    [root, real] = await Promise.all([realpath(dir), realpath(shown)]);
  } catch {
    throw new CliError(
      `${what} ${shown} is missing; is this a folder written by "setrain fetch-best"?`,
      EXIT_CODES.usage,
    );
  }
  const inside = relative(root, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw refused(what, shown, 'it links to a file outside the checkpoint folder');
  }
  // Opened once and checked through the handle, so the file cannot be swapped in between.
  const handle = await open(real, 'r');
  try {
    if (!(await handle.stat()).isFile()) {
      throw refused(what, shown, 'it is not a regular file');
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function refused(what: string, path: string, why: string): CliError {
  return new CliError(`${what} ${path} is refused: ${why}`, EXIT_CODES.usage);
}
