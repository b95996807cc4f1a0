import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { hashingTransform, isSha256Hex, sha256Hex, sha256HexOfStream } from './sha256.js';

const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

test('sha256 of bytes, strings and streams agree with the FIPS 180-2 "abc" vector', async () => {
  assert.equal(sha256Hex('abc'), ABC_SHA256);
  assert.equal(sha256Hex(new TextEncoder().encode('abc')), ABC_SHA256);
  assert.equal(
    await sha256HexOfStream(Readable.from([Buffer.from('a'), Buffer.from('bc')])),
    ABC_SHA256,
  );
  assert.ok(isSha256Hex(ABC_SHA256));
  assert.ok(!isSha256Hex(ABC_SHA256.toUpperCase()));
  assert.ok(!isSha256Hex('abc'));
});

test('hashingTransform passes chunks through unchanged and hashes and counts them', async () => {
  const hasher = hashingTransform();
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([Buffer.from('a'), Buffer.from('bc')]),
    hasher.stream,
    async (source) => {
      for await (const chunk of source as AsyncIterable<Buffer>) out.push(chunk);
    },
  );
  assert.equal(Buffer.concat(out).toString(), 'abc');
  assert.equal(hasher.size(), 3);
  assert.equal(hasher.digest(), ABC_SHA256);
});
