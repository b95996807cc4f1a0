import { type S3Client } from '@aws-sdk/client-s3';
import {
  datasetKeys,
  datasetPrefixOfManifest,
  formatS3Uri,
  type S3Location,
} from '@setrain/protocol';
import { DatasetInvalidError, type DatasetIssue } from './errors/dataset-invalid-error.js';
import { S3ObjectNotFoundError } from './errors/s3-object-not-found-error.js';
import { S3ObjectTooLargeError } from './errors/s3-object-too-large-error.js';
import {
  getObjectBytes,
  putObject,
  type ReadLimitOptions,
  type RequestOptions,
} from './objects.js';
import { sha256Hex } from './sha256.js';
import { keySegmentProblem, parseS3UriOrThrow } from './s3-uri.js';

/** One manifest line: an image key relative to the dataset prefix and its labels. */
export interface DatasetEntry {
  readonly key: string;
  readonly labels: readonly string[];
}

/** A dataset read from S3 and validated. */
export interface Dataset {
  readonly manifestUri: string;
  readonly bucket: string;
  /** The dataset prefix (no trailing slash); image keys are relative to it. */
  readonly prefix: string;
  /** Ordered class names from classes.json; a label's index here is its output unit. */
  readonly classes: readonly string[];
  readonly entries: readonly DatasetEntry[];
  /** ETag of manifest.jsonl (unquoted), recorded in trial provenance. */
  readonly manifestEtag: string;
  readonly classesEtag: string;
  /** True when any entry has more than one label (sigmoid outputs); false: exactly one each. */
  readonly multiLabel: boolean;
}

/** Problems reported before giving up; a broken 1M-line manifest should not build a 1M-line error. */
export const DEFAULT_MAX_DATASET_ISSUES = 100;

/** Largest classes.json read (a class list of 10,000 long names fits); larger is a dataset error. */
export const MAX_CLASSES_JSON_BYTES = 256 * 1024;
/** Longest manifest line (UTF-16 units); a key and a few labels need a few hundred. */
export const MAX_MANIFEST_LINE_LENGTH = 4096;

/**
 * What a JSON value is, for error messages: datasets may be other people's files, so messages name
 * the object, line and type but never repeat content.
 */
function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Fields a manifest line may have; others are reported so typos ("label") do not pass silently. */
const MANIFEST_LINE_FIELDS = ['key', 'labels'] as const;

/** Validates classes.json: a non-empty JSON array of unique, non-empty strings. */
export function parseClassesJson(text: string, source: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    // JSON.parse's message quotes the text around the error: it is not repeated.
    throw new DatasetInvalidError([{ source, message: 'is not valid JSON' }]);
  }
  if (!Array.isArray(value)) {
    throw new DatasetInvalidError([
      { source, message: 'must be a JSON array of class names, e.g. ["cat", "dog"]' },
    ]);
  }
  const issues: DatasetIssue[] = [];
  if (value.length === 0) issues.push({ source, message: 'lists no classes' });
  const seen = new Set<string>();
  value.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || name.trim() === '') {
      issues.push({
        source,
        message: `entry ${index} is ${typeof name === 'string' ? 'empty' : describeJson(name)}; class names must be non-empty strings`,
      });
    } else if (seen.has(name)) {
      issues.push({ source, message: `entry ${index} repeats an earlier class name` });
    } else {
      seen.add(name);
    }
  });
  if (issues.length > 0) throw new DatasetInvalidError(issues);
  return value as string[];
}

/** Why a manifest key is not usable, or undefined when it is fine. */
function keyProblem(key: string): string | undefined {
  if (key === '') return '"key" is empty';
  if (key.startsWith('/')) return '"key" must be relative to the dataset prefix';
  if (key.startsWith('s3://')) {
    return '"key" must be relative to the dataset prefix, not an s3:// URI';
  }
  return keySegmentProblem(key, '"key"');
}

export interface ParseManifestOptions {
  /** Stop collecting problems after this many. Default 100. */
  readonly maxIssues?: number;
}

/**
 * Validates manifest.jsonl text against the class list. Blank lines are skipped; line numbers in
 * issues are 1-based. Throws DatasetInvalidError listing every problem (up to maxIssues).
 */
export function parseManifest(
  text: string,
  classes: readonly string[],
  source: string,
  options: ParseManifestOptions = {},
): { entries: DatasetEntry[]; multiLabel: boolean } {
  const maxIssues = options.maxIssues ?? DEFAULT_MAX_DATASET_ISSUES;
  const issues: DatasetIssue[] = [];
  const known = new Set(classes);
  const firstLineOfKey = new Map<string, number>();
  const entries: DatasetEntry[] = [];
  let multiLabel = false;
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let index = 0; index < lines.length && issues.length < maxIssues; index++) {
    const line = index + 1;
    const raw = (lines[index] ?? '').replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const issue = (message: string): void => {
      if (issues.length < maxIssues) issues.push({ source, line, message });
    };
    if (raw.length > MAX_MANIFEST_LINE_LENGTH) {
      issue(`is ${raw.length} characters long; lines may be at most ${MAX_MANIFEST_LINE_LENGTH}`);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      // JSON.parse's message quotes the line: it is not repeated.
      issue('is not valid JSON');
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issue('must be a JSON object like {"key": "images/0001.jpg", "labels": ["cat"]}');
      continue;
    }
    const record = value as Record<string, unknown>;
    const unknownFields = Object.keys(record).filter(
      (field) => !(MANIFEST_LINE_FIELDS as readonly string[]).includes(field),
    );
    if (unknownFields.length > 0) {
      issue(
        `has ${unknownFields.length} unknown field(s); allowed: ${MANIFEST_LINE_FIELDS.join(', ')}`,
      );
    }
    const key = record['key'];
    const labels = record['labels'];
    let lineOk = unknownFields.length === 0;
    if (key === undefined) {
      issue('missing "key"');
      lineOk = false;
    } else if (typeof key !== 'string') {
      issue(`"key" must be a string, got ${describeJson(key)}`);
      lineOk = false;
    } else {
      const problem = keyProblem(key);
      const firstLine = firstLineOfKey.get(key);
      if (problem !== undefined) {
        issue(problem);
        lineOk = false;
      } else if (firstLine !== undefined) {
        issue(`repeats the "key" of line ${firstLine}`);
        lineOk = false;
      } else {
        firstLineOfKey.set(key, line);
      }
    }
    if (labels === undefined) {
      issue('missing "labels"');
      lineOk = false;
    } else if (!Array.isArray(labels) || labels.some((label) => typeof label !== 'string')) {
      issue(`"labels" must be an array of class names, got ${describeJson(labels)}`);
      lineOk = false;
    } else if (labels.length === 0) {
      issue('"labels" is empty; every image needs at least one label');
      lineOk = false;
    } else {
      const seen = new Set<string>();
      (labels as string[]).forEach((label, position) => {
        if (!known.has(label)) {
          issue(`label ${position + 1} is not in classes.json`);
          lineOk = false;
        } else if (seen.has(label)) {
          issue(`label ${position + 1} repeats an earlier label`);
          lineOk = false;
        }
        seen.add(label);
      });
    }
    if (lineOk && typeof key === 'string' && Array.isArray(labels)) {
      entries.push({ key, labels: labels as string[] });
      if (labels.length > 1) multiLabel = true;
    }
  }
  if (issues.length === 0 && entries.length === 0) {
    issues.push({ source, message: 'the manifest is empty (no entries)' });
  }
  if (issues.length > 0) throw new DatasetInvalidError(issues);
  return { entries, multiLabel };
}

/**
 * Reads a dataset's text object (manifest.jsonl, classes.json), checked against its `sha256`
 * metadata when it has one (every object `setrain dataset upload` and writeDataset write does) and
 * decoded as strict UTF-8: damaged bytes fail as DatasetInvalidError naming the object and the
 * cause, never as a bare decoding error or a silently different class list.
 */
async function getVerifiedDatasetText(
  client: S3Client,
  location: S3Location,
  options: ReadLimitOptions,
): Promise<{ text: string; etag: string }> {
  const source = formatS3Uri(location);
  const object = await getObjectBytes(client, location.bucket, location.key, options);
  const actual = sha256Hex(object.bytes);
  if (object.sha256 !== undefined && actual !== object.sha256) {
    throw new DatasetInvalidError([
      {
        source,
        message: `has sha256 ${actual}, but its sha256 metadata says ${object.sha256}: the object was damaged or replaced; upload the dataset again`,
      },
    ]);
  }
  try {
    return {
      text: new TextDecoder('utf-8', { fatal: true }).decode(object.bytes),
      etag: object.etag,
    };
  } catch {
    throw new DatasetInvalidError([{ source, message: 'is not valid UTF-8 text' }]);
  }
}

/**
 * Reads `manifest.jsonl` and the `classes.json` next to it, and validates both. `manifestUri` is
 * `s3://bucket/datasets/<name>/manifest.jsonl` (or its parsed location). A missing manifest throws
 * S3ObjectNotFoundError; a missing or malformed classes.json or manifest, DatasetInvalidError.
 */
export async function readDataset(
  client: S3Client,
  manifestUri: string | S3Location,
  options: RequestOptions & ParseManifestOptions = {},
): Promise<Dataset> {
  const location = typeof manifestUri === 'string' ? parseS3UriOrThrow(manifestUri) : manifestUri;
  const { bucket } = location;
  const prefix = datasetPrefixOfManifest(location.key);
  const keys = datasetKeys(prefix);
  const manifestSource = formatS3Uri(location);
  const classesSource = formatS3Uri({ bucket, key: keys.classes });
  const requestOptions = options.signal !== undefined ? { signal: options.signal } : {};
  // Both reads run at once, but a missing manifest is reported before anything about classes.json
  // (whichever answered first), so an absent dataset always reads as not found.
  const [manifestRead, classesRead] = await Promise.allSettled([
    getVerifiedDatasetText(client, location, requestOptions),
    getVerifiedDatasetText(
      client,
      { bucket, key: keys.classes },
      { ...requestOptions, maxBytes: MAX_CLASSES_JSON_BYTES },
    ),
  ]);
  if (manifestRead.status === 'rejected') throw manifestRead.reason;
  if (classesRead.status === 'rejected') {
    const error: unknown = classesRead.reason;
    if (error instanceof S3ObjectNotFoundError) {
      throw new DatasetInvalidError([
        { source: classesSource, message: 'classes.json not found next to the manifest' },
      ]);
    }
    if (error instanceof S3ObjectTooLargeError) {
      throw new DatasetInvalidError([{ source: classesSource, message: error.message }]);
    }
    throw error;
  }
  const manifest = manifestRead.value;
  const classesObject = classesRead.value;
  const classes = parseClassesJson(classesObject.text, classesSource);
  const { entries, multiLabel } = parseManifest(manifest.text, classes, manifestSource, options);
  return {
    manifestUri: manifestSource,
    bucket,
    prefix,
    classes,
    entries,
    manifestEtag: manifest.etag,
    classesEtag: classesObject.etag,
    multiLabel,
  };
}

/** The bucket key of an entry's image. */
export function datasetImageKey(dataset: Pick<Dataset, 'prefix'>, entry: DatasetEntry): string {
  return datasetKeys(dataset.prefix).image(entry.key);
}

export interface WriteDatasetInput {
  readonly classes: readonly string[];
  readonly entries: readonly DatasetEntry[];
}

export interface WriteDatasetResult {
  readonly manifestUri: string;
  readonly classesUri: string;
  readonly manifestEtag: string;
  readonly manifestSha256: string;
}

/** Serialises entries as manifest.jsonl text (one JSON object per line, trailing newline). */
export function formatManifest(entries: readonly DatasetEntry[]): string {
  return entries
    .map((entry) => `${JSON.stringify({ key: entry.key, labels: entry.labels })}\n`)
    .join('');
}

/**
 * Validates and writes `<prefix>/classes.json` then `<prefix>/manifest.jsonl` (manifest last: its
 * presence means the dataset is complete). Images are uploaded separately, under the same prefix.
 */
export async function writeDataset(
  client: S3Client,
  bucket: string,
  prefix: string,
  dataset: WriteDatasetInput,
  options: RequestOptions = {},
): Promise<WriteDatasetResult> {
  const keys = datasetKeys(prefix);
  const classesUri = formatS3Uri({ bucket, key: keys.classes });
  const manifestUri = formatS3Uri({ bucket, key: keys.manifest });
  const classesText = `${JSON.stringify(dataset.classes, null, 2)}\n`;
  const manifestText = formatManifest(dataset.entries);
  // Same checks as readDataset, so nothing written here fails to read back.
  parseManifest(manifestText, parseClassesJson(classesText, classesUri), manifestUri);
  const requestOptions = options.signal !== undefined ? { signal: options.signal } : {};
  await putObject(client, bucket, keys.classes, classesText, {
    contentType: 'application/json',
    ...requestOptions,
  });
  const manifest = await putObject(client, bucket, keys.manifest, manifestText, {
    contentType: 'application/x-ndjson',
    ...requestOptions,
  });
  return { manifestUri, classesUri, manifestEtag: manifest.etag, manifestSha256: manifest.sha256 };
}
