import { StorageError } from './storage-error.js';

/** One problem found in a dataset; `line` is 1-based in manifest.jsonl when the problem is there. */
export interface DatasetIssue {
  /** The object the problem is in (an s3:// URI or a file name). */
  readonly source: string;
  readonly line?: number;
  readonly message: string;
}

/** How many issues the error message spells out; all of them stay in `issues`. */
export const DEFAULT_ISSUES_IN_MESSAGE = 10;

/** A dataset manifest or its classes.json is malformed; `issues` lists every problem found. */
export class DatasetInvalidError extends StorageError {
  readonly code = 'DATASET_INVALID' as const;

  constructor(readonly issues: readonly DatasetIssue[]) {
    const shown = issues.slice(0, DEFAULT_ISSUES_IN_MESSAGE).map(formatDatasetIssue);
    const more =
      issues.length > DEFAULT_ISSUES_IN_MESSAGE
        ? [`... and ${issues.length - DEFAULT_ISSUES_IN_MESSAGE} more`]
        : [];
    super(`invalid dataset (${issues.length} problem(s)):\n  ${[...shown, ...more].join('\n  ')}`);
  }
}

export function formatDatasetIssue(issue: DatasetIssue): string {
  const where = issue.line === undefined ? issue.source : `${issue.source} line ${issue.line}`;
  return `${where}: ${issue.message}`;
}
