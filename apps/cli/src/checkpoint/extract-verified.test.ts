import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';

import tar from 'tar-stream';

import { CliError, EXIT_CODES } from '../errors.js';
import { extractVerified } from './extract-verified.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'setrain-extract-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tarOf(name: string, body: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name, size: body.length }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('a source that breaks off inside an entry is exit 9, not an unheard stream error', async () => {
  const body = Buffer.alloc(256 * 1024, 7);
  const whole = await tarOf('t.1/best/weights.bin', body);
  const plan = [
    { tarName: 't.1/best/weights.bin', path: 'weights.bin', bytes: body.length, sha256: 'x' },
  ];
  // The header and a little of the body arrive, then the socket dies a turn later: the entry is
  // destroyed while its folder is still being made.
  for (const cutAt of [512 + 1, 512 + 4096, 512 + 65536]) {
    let sent = false;
    const source = new Readable({
      read() {
        if (this.readableLength > 0 || sent) return;
        sent = true;
        this.push(whole.subarray(0, cutAt));
        setImmediate(() => this.destroy(new Error('other side closed')));
      },
    });
    const dir = join(root, `cut-${cutAt}`);
    const error = await extractVerified(source, dir, plan).then(
      () => assert.fail('a cut download must not verify'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, EXIT_CODES.incomplete);
    assert.match(error.message, /cut short: .*other side closed/);
  }
  // Give any late 'error' event a turn to surface (it would fail this test as an uncaught error).
  await new Promise((resolve) => setTimeout(resolve, 50));
});
