import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

import type { BestTrialResponse, TrialRecord } from '@setrain/protocol';
import tar from 'tar-stream';

import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { CliError, EXIT_CODES } from '../errors.js';
import { formatNumber } from '../output/table.js';

export const MODEL_CARD_FILE = 'model-card.json';

/** What `fetch-best` writes beside the checkpoint: what the model is and where it came from. */
export interface ModelCard {
  sweepId: string;
  trialId: string;
  objective: BestTrialResponse['objective'] & { value: number; bestEpoch: number | null };
  params: BestTrialResponse['params'];
  model: TrialRecord['model'] | undefined;
  training: TrialRecord['training'] | undefined;
  metrics: TrialRecord['epochs'];
  provenance: TrialRecord['provenance'] | undefined;
  files: { name: string; bytes: number; sha256: string; verified: boolean }[];
  fetchedFrom: string;
  fetchedAt: string;
}

/** Extracts a tar stream into `dir` (flattened to base names), hashing every file on the way. */
async function extractTar(
  source: NodeJS.ReadableStream,
  dir: string,
): Promise<Map<string, { bytes: number; sha256: string }>> {
  const files = new Map<string, { bytes: number; sha256: string }>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.type !== 'file') {
      stream.resume();
      stream.on('end', next);
      return;
    }
    const name = basename(header.name);
    const hash = createHash('sha256');
    let bytes = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    pipeline(stream, hasher, createWriteStream(join(dir, name))).then(
      () => {
        files.set(name, { bytes, sha256: hash.digest('hex') });
        next();
      },
      (err: unknown) => next(err as Error),
    );
  });
  await pipeline(source, extract);
  return files;
}

/** `setrain fetch-best <sweepId> -o <dir>` */
export async function fetchBest(
  ctx: CommandContext,
  sweepId: string,
  options: { output: string; json?: boolean },
): Promise<void> {
  const api = ctx.api();
  const best = await api.getJson<BestTrialResponse>(
    `/v1/sweeps/${encodeURIComponent(sweepId)}/best`,
  );
  // Download into a sibling temp folder and move it into place only once verified.
  const staging = `${options.output.replace(/\/+$/, '')}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const stream = await api.getStream(`/v1/sweeps/${encodeURIComponent(sweepId)}/best/download`);
    const files = await extractTar(stream, staging);
    const expected = new Map(
      [...best.artifacts, best.trialJson]
        .filter((a) => a.sha256)
        .map((a) => [basename(a.key), a.sha256 as string]),
    );
    const record = files.has('trial.json')
      ? (JSON.parse(await readFile(join(staging, 'trial.json'), 'utf8')) as TrialRecord)
      : undefined;
    for (const artifact of record?.artifacts ?? [])
      expected.set(basename(artifact.key), artifact.sha256);
    for (const [name, sha256] of expected) {
      const got = files.get(name);
      if (!got)
        throw new CliError(
          `the download lacks ${name}, which the best trial lists`,
          EXIT_CODES.checksum,
        );
      if (got.sha256 !== sha256) {
        throw new CliError(
          `sha256 mismatch for ${name}: expected ${sha256}, got ${got.sha256}; nothing was written`,
          EXIT_CODES.checksum,
        );
      }
    }
    const card: ModelCard = {
      sweepId: best.sweepId,
      trialId: best.trialId,
      objective: { ...best.objective, value: best.objectiveValue, bestEpoch: best.bestEpoch },
      params: best.params,
      model: record?.model,
      training: record?.training,
      metrics: record?.epochs ?? [],
      provenance: record?.provenance,
      files: [...files].map(([name, f]) => ({ name, ...f, verified: expected.has(name) })),
      fetchedFrom: api.baseUrl,
      fetchedAt: new Date().toISOString(),
    };
    await writeFile(join(staging, MODEL_CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
    await rm(options.output, { recursive: true, force: true });
    await rename(staging, options.output);
    if (options.json) {
      writeJson(ctx, card);
      return;
    }
    ctx.out.write(
      `best trial ${best.trialId}: ${best.objective.metric} ${formatNumber(best.objectiveValue)} ` +
        `(${
          Object.entries(best.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || 'no params'
        })\n` +
        `wrote ${files.size} files to ${options.output} (${expected.size} verified by sha256) and ${MODEL_CARD_FILE}\n` +
        `try it: setrain predict ${options.output} <image...>\n`,
    );
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}
