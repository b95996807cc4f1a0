import { createHash, timingSafeEqual } from 'node:crypto';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** What a key may do. `read`: GET its own sweeps; `submit`: also submit and change its own
 * sweeps; `admin`: everything, every sweep. */
export const API_KEY_SCOPES = ['read', 'submit', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
/** Names keys get when they come from SETRAIN_API_KEYS (`env-1`, `env-2`, ...). */
export const ENV_KEY_NAME_PREFIX = 'env-';
/** Key names are stored in Redis keys and logs: short and plain. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const MIN_KEY_LENGTH = 16;

/** One configured key. */
export interface ApiKeyEntry {
  readonly name: string;
  readonly key: string;
  readonly scopes: readonly ApiKeyScope[];
}

/** Who sent a request: the name and scopes of its key. */
export interface Principal {
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
}

/** Keys file (SETRAIN_API_KEYS_FILE), JSON or YAML: `keys: [{ name, key, scopes }]`. */
export const keysFileSchema = z.strictObject({
  keys: z
    .array(
      z.strictObject({
        name: z.string().regex(KEY_NAME_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
        key: z.string().min(MIN_KEY_LENGTH, `must be at least ${MIN_KEY_LENGTH} characters`),
        scopes: z.array(z.enum(API_KEY_SCOPES)).min(1),
      }),
    )
    .min(1),
});

/** Parses a keys file's text; throws an Error naming the problem (never echoing a key). */
export function parseKeysFile(text: string, source: string): ApiKeyEntry[] {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 0 }) as unknown;
  } catch {
    throw new Error(`${source} is not valid YAML or JSON`);
  }
  const result = keysFileSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`${source} is invalid: ${problems.join('; ')}`);
  }
  const names = new Set<string>();
  for (const entry of result.data.keys) {
    if (names.has(entry.name)) throw new Error(`${source}: key name ${entry.name} is used twice`);
    names.add(entry.name);
  }
  return result.data.keys;
}

/** The single-key variable's keys, each an admin (as before scopes existed). */
export function adminKeys(keys: readonly string[]): ApiKeyEntry[] {
  return keys.map((key, index) => ({
    name: `${ENV_KEY_NAME_PREFIX}${index + 1}`,
    key,
    scopes: ['admin'],
  }));
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Checks bearer API keys in constant time: every configured key is compared (as a sha256 digest,
 * so lengths never leak) whatever the outcome. `replace` swaps the key set atomically (reload).
 */
export class ApiKeyVerifier {
  private entries: readonly { digest: Buffer; principal: Principal }[] = [];

  constructor(keys: readonly ApiKeyEntry[]) {
    this.replace(keys);
  }

  /** Installs a new key set (rotation without restart); the old one stops working at once. */
  replace(keys: readonly ApiKeyEntry[]): void {
    if (keys.length === 0) throw new RangeError('at least one API key is required');
    this.entries = keys.map((entry) => ({
      digest: digest(entry.key),
      principal: Object.freeze({ name: entry.name, scopes: Object.freeze([...entry.scopes]) }),
    }));
  }

  /** The key's principal when the header is `Bearer <a configured key>`, else undefined. */
  verify(header: string | undefined): Principal | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const candidate = digest(match?.[1] ?? '');
    let found: Principal | undefined;
    for (const entry of this.entries) {
      // The comparison comes first, so it runs for every key whatever was found already.
      if (timingSafeEqual(candidate, entry.digest) && found === undefined) found = entry.principal;
    }
    return match === null ? undefined : found;
  }

  /** True when the Authorization header carries a configured key. */
  verifyHeader(header: string | undefined): boolean {
    return this.verify(header) !== undefined;
  }
}

/** True when the principal may act on every sweep. */
export function isAdmin(principal: Principal): boolean {
  return principal.scopes.includes('admin');
}

/** True when the principal may do a request of this method (GET/HEAD read; others change). */
export function allowsMethod(principal: Principal, method: string): boolean {
  if (isAdmin(principal)) return true;
  if (method === 'GET' || method === 'HEAD') return principal.scopes.length > 0;
  return principal.scopes.includes('submit');
}
