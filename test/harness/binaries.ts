import { execFileSync } from 'node:child_process';
import { BinaryMissingError } from './binary-missing-error.js';

/** The executable `name` as the shell finds it on PATH, or undefined. */
export function whichBinary(name: string): string | undefined {
  try {
    const path = execFileSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return path.startsWith('/') ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Path of `name`, or BinaryMissingError naming the Debian package that provides it. */
export function requireBinary(name: string, debianPackage: string): string {
  const path = whichBinary(name);
  if (path === undefined) throw new BinaryMissingError(name, debianPackage);
  return path;
}

/** Path of Debian's promtool (package `prometheus`). */
export function promtoolPath(): string {
  return requireBinary('promtool', 'prometheus');
}
