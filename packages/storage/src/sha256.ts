import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Lowercase hex sha256 of a byte buffer or a UTF-8 string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lowercase hex sha256 of everything a stream yields (consumes the stream). */
export async function sha256HexOfStream(
  stream: AsyncIterable<Uint8Array | string>,
): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

/** Lowercase hex sha256 of a file's contents, read as a stream. */
export function sha256HexOfFile(path: string): Promise<string> {
  return sha256HexOfStream(createReadStream(path));
}

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** True for a lowercase 64-digit hex string. */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX_PATTERN.test(value);
}
