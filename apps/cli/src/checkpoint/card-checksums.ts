import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

import { z } from 'zod';

import { CliError, EXIT_CODES } from '../errors.js';
import { readConfinedFile } from './confined-file.js';

/** What `setrain fetch-best` writes beside the files it verified: their names and sha256. */
export const MODEL_CARD_FILE = 'model-card.json';

/**
 * Reads the files of a checkpoint folder, each checked against the sha256 its model-card.json
 * records when the folder has one (as every folder `setrain fetch-best` writes does): a file that
 * changed since it was verified, or one the card does not list, is refused (exit 7). A folder
 * without a card (assembled by hand) is read unchecked.
 */
export class CardChecksums {
  private constructor(
    private readonly dir: string,
    /** Relative path -> sha256; undefined when the folder has no model-card.json. */
    private readonly sha256: ReadonlyMap<string, string> | undefined,
  ) {}

  /** Reads `dir`'s model-card.json, if any. */
  static async open(dir: string): Promise<CardChecksums> {
    try {
      await lstat(join(dir, MODEL_CARD_FILE));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return new CardChecksums(dir, undefined);
      throw error;
    }
    const text = (await readConfinedFile(dir, MODEL_CARD_FILE, 'model card')).toString('utf8');
    return new CardChecksums(dir, parseCardFiles(text, join(dir, MODEL_CARD_FILE)));
  }

  /** Whether the folder's files are checked (it has a model-card.json). */
  get checked(): boolean {
    return this.sha256 !== undefined;
  }

  /** Reads `path` (relative, confined to the folder) and checks it; `what` names it in errors. */
  async read(path: string, what: string): Promise<Buffer> {
    const bytes = await readConfinedFile(this.dir, path, what);
    if (this.sha256 === undefined) return bytes;
    const shown = join(this.dir, path);
    const expected = this.sha256.get(path);
    if (expected === undefined) {
      throw new CliError(
        `${what} ${shown} is not among the files ${MODEL_CARD_FILE} lists, so it cannot be verified; fetch the checkpoint again with "setrain fetch-best"`,
        EXIT_CODES.checksum,
      );
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) {
      throw new CliError(
        `${what} ${shown} has sha256 ${actual}, but ${MODEL_CARD_FILE} records ${expected}: it changed since fetch-best verified it; fetch the checkpoint again`,
        EXIT_CODES.checksum,
      );
    }
    return bytes;
  }
}

/** The part of model-card.json the checks need: each file's path and sha256. */
const cardFilesSchema = z.object({
  files: z.array(z.object({ name: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

/** The card's `files` as path -> sha256; a card that does not parse is a usage error. */
function parseCardFiles(text: string, shown: string): Map<string, string> {
  let files: z.infer<typeof cardFilesSchema>['files'];
  try {
    files = cardFilesSchema.parse(JSON.parse(text)).files;
  } catch (error) {
    const why = error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message;
    throw new CliError(`model card ${shown} is not valid: ${why}`, EXIT_CODES.usage);
  }
  return new Map(files.map((file) => [file.name, file.sha256]));
}
