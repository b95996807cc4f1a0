import { createHash, timingSafeEqual } from 'node:crypto';

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Checks bearer API keys in constant time: every configured key is compared (as a sha256 digest,
 * so lengths never leak) whatever the outcome.
 */
export class ApiKeyVerifier {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new RangeError('at least one API key is required');
    this.digests = keys.map(digest);
  }

  /** True when the Authorization header is `Bearer <one of the keys>`. */
  verifyHeader(header: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const candidate = digest(match?.[1] ?? '');
    let ok = false;
    for (const known of this.digests) {
      // The comparison comes first, so it runs for every key whatever `ok` already is.
      ok = timingSafeEqual(candidate, known) || ok;
    }
    return ok && match !== null;
  }
}
