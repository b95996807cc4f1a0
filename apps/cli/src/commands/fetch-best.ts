import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import {
  DEFAULT_ARTIFACT_EPOCH,
  type ArtifactEpoch,
  type BestTrialResponse,
  type TrialRecord,
} from '@setrain/protocol';

import { MODEL_CARD_FILE } from '../checkpoint/card-checksums.js';
import { planDownload, TRIAL_JSON_FILE } from '../checkpoint/download-plan.js';
import { extractVerified, type ExtractedFile } from '../checkpoint/extract-verified.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../context.js';
import { CliError, EXIT_CODES } from '../errors.js';
import { formatNumber } from '../output/table.js';

export { MODEL_CARD_FILE };

/** What `fetch-best` writes beside the checkpoint: what the model is and where it came from. */
export interface ModelCard {
  sweepId: string;
  trialId: string;
  objective: BestTrialResponse['objective'] & { value: number; bestEpoch: number | null };
  /** Which weights these are (best or last epoch) and the epoch they hold. */
  weights: ArtifactEpoch;
  epoch: number | null;
  params: BestTrialResponse['params'];
  model: TrialRecord['model'] | undefined;
  training: TrialRecord['training'] | undefined;
  metrics: TrialRecord['epochs'];
  provenance: TrialRecord['provenance'] | undefined;
  files: { name: string; bytes: number; sha256: string; verified: boolean }[];
  fetchedFrom: string;
  fetchedAt: string;
}

export interface FetchBestOptions {
  output: string;
  /** Write into a non-empty folder, replacing only the files fetch-best writes. */
  force?: boolean;
  /** `best` (default) or `last` epoch's weights. */
  epoch?: ArtifactEpoch;
  /** Fetch this trial (by number) instead of the best one (`?trial=N`). */
  trial?: number;
  json?: boolean;
}

/** Refuses a non-empty output folder unless --force; a file in its place is always refused. */
async function checkOutput(output: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    if (!(await stat(output)).isDirectory()) {
      throw new CliError(`${output} exists and is not a folder`, EXIT_CODES.usage);
    }
    entries = await readdir(output);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (entries.length > 0 && !force) {
    throw new CliError(
      `${output} is not empty; pick a new or empty folder, or pass --force to replace only the files fetch-best writes (others are kept)`,
      EXIT_CODES.usage,
    );
  }
}

/** Moves verified files into place; model-card.json last, so its presence means all are there. */
async function placeFiles(
  staging: string,
  output: string,
  files: readonly string[],
): Promise<void> {
  await mkdir(output, { recursive: true });
  for (const path of files) {
    await mkdir(dirname(join(output, path)), { recursive: true });
    await rename(join(staging, path), join(output, path));
  }
}

function modelCardOf(
  best: BestTrialResponse,
  record: TrialRecord,
  files: readonly ExtractedFile[],
  fetchedFrom: string,
): ModelCard {
  return {
    sweepId: best.sweepId,
    trialId: best.trialId,
    objective: { ...best.objective, value: best.objectiveValue, bestEpoch: best.bestEpoch },
    weights: best.weights,
    epoch: best.epoch,
    params: best.params,
    model: record.model,
    training: record.training,
    metrics: record.epochs,
    provenance: record.provenance,
    files: files.map((f) => ({
      name: f.path,
      bytes: f.bytes,
      sha256: f.sha256,
      verified: f.verified,
    })),
    fetchedFrom,
    fetchedAt: new Date().toISOString(),
  };
}

/** `setrain fetch-best <sweepId> -o <dir> [--epoch best|last] [--trial N] [--force]` */
export async function fetchBest(
  ctx: CommandContext,
  sweepId: string,
  options: FetchBestOptions,
): Promise<void> {
  const output = resolve(options.output);
  await checkOutput(output, options.force === true);
  const api = ctx.api();
  const query =
    `?epoch=${options.epoch ?? DEFAULT_ARTIFACT_EPOCH}` +
    (options.trial !== undefined ? `&trial=${options.trial}` : '');
  const base = `/v1/sweeps/${encodeURIComponent(sweepId)}/best`;
  const best = await api.getJson<BestTrialResponse>(`${base}${query}`);
  const plan = planDownload(best);
  // Download and verify in a staging folder beside the output (same file system, so the final
  // move is a rename): a broken download never leaves a partial checkpoint in the output.
  await mkdir(dirname(output), { recursive: true });
  const staging = await mkdtemp(join(dirname(output), `.${basename(output)}.fetch-`));
  try {
    const stream = await api.getStream(`${base}/download${query}`);
    const files = await extractVerified(stream, staging, plan);
    const record = JSON.parse(
      await readFile(join(staging, TRIAL_JSON_FILE), 'utf8'),
    ) as TrialRecord;
    const card = modelCardOf(best, record, files, api.baseUrl);
    await writeFile(join(staging, MODEL_CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
    await placeFiles(staging, output, [...files.map((f) => f.path), MODEL_CARD_FILE]);
    if (options.json) {
      writeJson(ctx, card);
      return;
    }
    const params =
      Object.entries(best.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'no params';
    ctx.out.write(
      `${options.trial !== undefined ? 'trial' : 'best trial'} ${best.trialId}: ${best.objective.metric} ${formatNumber(best.objectiveValue)} (${params})\n` +
        `${best.weights} weights (epoch ${best.epoch ?? '?'}): wrote ${files.length} files to ${options.output}, ` +
        `each verified by sha256, and ${MODEL_CARD_FILE}\n` +
        `try it: setrain predict ${options.output} <image...>\n`,
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
