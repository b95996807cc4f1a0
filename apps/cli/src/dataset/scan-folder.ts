import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import { type Info, parse as parseCsv } from 'csv-parse/sync';

import { CliError, EXIT_CODES } from '../errors.js';

/** Image extensions the worker can decode. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;
/** Labels file names looked for at the top of a dataset folder, in order. */
export const LABEL_FILE_NAMES = ['labels.csv'] as const;
/** Separator of several labels in one CSV cell (multi-label datasets). */
export const LABEL_SEPARATOR = ';';

/** An image found in a local dataset folder. */
export interface LocalImage {
  /** Absolute path on disk. */
  path: string;
  /** Key relative to the dataset prefix, always with forward slashes (`images/...`). */
  key: string;
  labels: string[];
}

export interface LocalDataset {
  /** How labels were found: a CSV file, or one subfolder per class. */
  source: 'csv' | 'subfolders';
  classes: string[];
  images: LocalImage[];
}

function isImage(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

function toKey(root: string, path: string): string {
  return `images/${relative(root, path).split(sep).join('/')}`;
}

/** One data row of labels.csv with the 1-based line it starts on (for error messages). */
interface CsvRow {
  cells: string[];
  line: number;
}

/**
 * Parses labels.csv (RFC 4180: quoted cells may hold commas, quotes and line breaks; a UTF-8 BOM is
 * dropped) into rows, each with the line it starts on. A syntax error names the file and line.
 */
export function parseLabelsCsv(text: string, csvPath: string): CsvRow[] {
  try {
    // csv-parse's typings say string[][] whatever the options; with `info` each record is
    // {record, info} (documented), so the shape is asserted through unknown.
    const records = parseCsv(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: Info }[];
    // info.lines is the line a record ends on; quoted line breaks inside it move its start back.
    return records.map(({ record, info }) => ({
      cells: record,
      line: info.lines - record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0),
    }));
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new CliError(`${csvPath}: not valid CSV (${text})`, EXIT_CODES.usage);
  }
}

/** The image path a labels.csv row names, refused when it leaves the dataset folder. */
function imagePathInFolder(root: string, file: string, where: string): string {
  const path = resolve(root, file);
  const inside = relative(root, path);
  if (isAbsolute(file) || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new CliError(
      `${where}: ${file} is outside the dataset folder; name images relative to ${root}`,
      EXIT_CODES.usage,
    );
  }
  return path;
}

async function scanCsv(root: string, csvPath: string): Promise<LocalDataset> {
  const rows = parseLabelsCsv(await readFile(csvPath, 'utf8'), csvPath);
  const images: LocalImage[] = [];
  const seen = new Set<string>();
  const classes = new Set<string>();
  const header = rows[0]?.cells[0]?.toLowerCase();
  const hasHeader = header === 'file' || header === 'filename';
  for (const { cells, line } of rows.slice(hasHeader ? 1 : 0)) {
    const where = `${csvPath} line ${line}`;
    const [file, labelCell] = cells;
    if (!file || labelCell === undefined) {
      throw new CliError(
        `${where}: expected "file,labels" (labels separated by "${LABEL_SEPARATOR}")`,
        EXIT_CODES.usage,
      );
    }
    if (!isImage(file)) {
      throw new CliError(
        `${where}: ${file} is not a ${IMAGE_EXTENSIONS.join('/')} image`,
        EXIT_CODES.usage,
      );
    }
    const path = imagePathInFolder(root, file, where);
    try {
      if (!(await stat(path)).isFile()) throw new Error('not a file');
    } catch {
      throw new CliError(`${where}: image ${path} does not exist`, EXIT_CODES.usage);
    }
    const labels = labelCell
      .split(LABEL_SEPARATOR)
      .map((l) => l.trim())
      .filter(Boolean);
    if (labels.length === 0)
      throw new CliError(`${where}: ${file} has no labels`, EXIT_CODES.usage);
    const key = toKey(root, path);
    if (seen.has(key)) throw new CliError(`${where}: ${file} is listed twice`, EXIT_CODES.usage);
    seen.add(key);
    labels.forEach((l) => classes.add(l));
    images.push({ path, key, labels: [...new Set(labels)] });
  }
  return { source: 'csv', classes: [...classes].sort(), images };
}

async function scanSubfolders(root: string): Promise<LocalDataset> {
  const images: LocalImage[] = [];
  const classes: string[] = [];
  const entries = (await readdir(root, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const files = (await readdir(join(root, entry.name), { withFileTypes: true }))
      .filter((f) => f.isFile() && isImage(f.name))
      .map((f) => f.name)
      .sort();
    if (files.length === 0) continue;
    classes.push(entry.name);
    for (const file of files) {
      const path = join(root, entry.name, file);
      images.push({ path, key: toKey(root, path), labels: [entry.name] });
    }
  }
  return { source: 'subfolders', classes, images };
}

/**
 * Reads a local dataset folder: `labels.csv` (`file,labels` with labels separated by ";") at its
 * top, or else one subfolder per class holding that class's images.
 */
export async function scanDatasetFolder(root: string): Promise<LocalDataset> {
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new CliError(
      `dataset folder ${root} does not exist or is not a folder`,
      EXIT_CODES.usage,
    );
  }
  let dataset: LocalDataset | undefined;
  for (const name of LABEL_FILE_NAMES) {
    const csvPath = join(root, name);
    const exists = await stat(csvPath).then(
      (s) => s.isFile(),
      () => false,
    );
    if (exists) {
      dataset = await scanCsv(root, csvPath);
      break;
    }
  }
  dataset ??= await scanSubfolders(root);
  if (dataset.images.length === 0) {
    throw new CliError(
      `no images found in ${root}: add ${LABEL_FILE_NAMES[0]} (file,labels) or one subfolder per class with ${IMAGE_EXTENSIONS.join('/')} images`,
      EXIT_CODES.usage,
    );
  }
  if (dataset.classes.length < 2 && dataset.source === 'subfolders') {
    throw new CliError(
      `found only one class folder in ${root}; a classifier needs at least two`,
      EXIT_CODES.usage,
    );
  }
  return dataset;
}
