import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';

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

/** A pass-through stream that hashes and counts what flows through it. */
export interface HashingTransform {
  /** Pipe the data through this; it yields the same chunks. */
  readonly stream: Transform;
  /** The bytes seen so far. */
  readonly size: () => number;
  /** Lowercase hex sha256 of everything seen; call once, after the stream has ended. */
  readonly digest: () => string;
}

/** Hashes (sha256) and counts the bytes of a stream on its way through, e.g. to S3 or a file. */
export function hashingTransform(): HashingTransform {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.byteLength;
      callback(null, chunk);
    },
  });
  return { stream, size: () => size, digest: () => hash.digest('hex') };
}

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** True for a lowercase 64-digit hex string. */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX_PATTERN.test(value);
}
