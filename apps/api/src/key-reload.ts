import { readFileSync, unwatchFile, watchFile } from 'node:fs';

import { type FastifyBaseLogger } from 'fastify';

import { adminKeys, type ApiKeyVerifier, parseKeysFile, type ApiKeyEntry } from './auth.js';

/** How often the keys file is polled for changes (polling also sees Kubernetes secret swaps). */
export const KEYS_FILE_POLL_MS = 2000;

/** Every configured key: the keys file's and the SETRAIN_API_KEYS admins (throws when invalid). */
export function readKeys(file: string | undefined, envKeys: readonly string[]): ApiKeyEntry[] {
  const fromFile = file === undefined ? [] : parseKeysFile(readFileSync(file, 'utf8'), file);
  return [...fromFile, ...adminKeys(envKeys)];
}

/**
 * Keeps a verifier in step with the keys file: reloads on SIGHUP and when the file changes. A file
 * that fails to parse keeps the previous keys and logs why (a typo must not lock everyone out).
 * Returns a function that stops watching.
 */
export interface WatchKeysOptions {
  /** Signal that reloads the file; default SIGHUP (tests use another: the harness owns SIGHUP). */
  readonly signal?: NodeJS.Signals;
  /** Poll period of the file; default KEYS_FILE_POLL_MS. */
  readonly pollMs?: number;
}

export function watchKeys(
  verifier: ApiKeyVerifier,
  file: string,
  envKeys: readonly string[],
  log: FastifyBaseLogger,
  options: WatchKeysOptions = {},
): () => void {
  const signal = options.signal ?? 'SIGHUP';
  const reload = (trigger: string): void => {
    try {
      const keys = readKeys(file, envKeys);
      verifier.replace(keys);
      log.info(
        { trigger, keys: keys.map((k) => ({ name: k.name, scopes: k.scopes })) },
        'API keys reloaded',
      );
    } catch (error) {
      log.error({ trigger, err: error }, 'API keys not reloaded; the previous keys stay in force');
    }
  };
  const onSignal = (): void => {
    reload(signal);
  };
  process.on(signal, onSignal);
  watchFile(file, { interval: options.pollMs ?? KEYS_FILE_POLL_MS }, () => {
    reload('file change');
  });
  return () => {
    process.off(signal, onSignal);
    unwatchFile(file);
  };
}
