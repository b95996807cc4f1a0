import { isAbsolute } from 'node:path';

import { runKeys, type BestTrialResponse } from '@setrain/protocol';

import { CliError, EXIT_CODES } from '../errors.js';
import { MODEL_CARD_FILE } from './card-checksums.js';

/** One file a best-trial download must contain. */
export interface PlannedFile {
  /** Its name in the tar (`<trialId>/best/model.json`). */
  readonly tarName: string;
  /** Where it goes, relative to the output folder (`model.json`, `trial.json`). */
  readonly path: string;
  readonly bytes: number;
  /** From the API's answer, which reads it from the trial's record. */
  readonly sha256: string;
}

export const TRIAL_JSON_FILE = 'trial.json';

/** Names fetch-best writes itself; a downloaded file may not take them. */
const RESERVED = new Set([MODEL_CARD_FILE]);

function checkRelativePath(path: string, key: string): void {
  const parts = path.split('/');
  if (
    path === '' ||
    isAbsolute(path) ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    RESERVED.has(path)
  ) {
    throw new CliError(
      `the API listed ${key}, which cannot be written safely as ${JSON.stringify(path)}`,
      EXIT_CODES.checksum,
    );
  }
}

/**
 * The exact files a download of `best` must hold, with checksums from the API's answer: trial.json
 * at the top, and the files of the chosen weights (best/ or final/) with their paths below that
 * directory kept (`best/sub/x.bin` -> `sub/x.bin`), so nothing is flattened onto anything else.
 */
export function planDownload(best: BestTrialResponse): PlannedFile[] {
  const trialPrefix = runKeys(best.sweepId).trial(best.trialId).prefix;
  const planned: PlannedFile[] = [];
  const paths = new Set<string>();
  const add = (key: string, path: string, bytes: number, sha256: string | undefined): void => {
    if (!key.startsWith(trialPrefix)) {
      throw new CliError(
        `the API listed ${key}, outside trial ${best.trialId}`,
        EXIT_CODES.checksum,
      );
    }
    if (sha256 === undefined) {
      throw new CliError(
        `the API gave no sha256 for ${key}; cannot verify it`,
        EXIT_CODES.checksum,
      );
    }
    checkRelativePath(path, key);
    if (paths.has(path)) {
      throw new CliError(`the API listed two files for ${path}`, EXIT_CODES.checksum);
    }
    paths.add(path);
    planned.push({
      tarName: `${best.trialId}/${key.slice(trialPrefix.length)}`,
      path,
      bytes,
      sha256,
    });
  };
  add(best.trialJson.key, TRIAL_JSON_FILE, best.trialJson.bytes, best.trialJson.sha256);
  for (const artifact of best.artifacts) {
    const relative = artifact.key.slice(trialPrefix.length);
    const slash = relative.indexOf('/');
    add(artifact.key, relative.slice(slash + 1), artifact.bytes, artifact.sha256);
  }
  return planned;
}
