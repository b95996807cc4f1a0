/**
 * Exit codes of the setrain command. Scripts can branch on them; each failure prints one line.
 */
export const EXIT_CODES = {
  ok: 0,
  /** Anything not covered below. */
  failure: 1,
  /** Bad command line, missing or unreadable file, bad YAML/JSON, invalid dataset folder. */
  usage: 2,
  /** The API could not be reached. */
  unreachable: 3,
  /** The API refused the key (401). */
  unauthorized: 4,
  /** The sweep, trial or object does not exist (404). */
  notFound: 5,
  /** The API rejected the request (400, 409) — e.g. an invalid spec. */
  rejected: 6,
  /** A downloaded artifact's sha256 did not match. */
  checksum: 7,
  /** `sweep status --watch` / `submit --watch`: the sweep ended failed or cancelled. */
  sweepNotCompleted: 8,
  /** A download broke off or ended early (e.g. S3 failed mid-stream); nothing was written. */
  incomplete: 9,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A user-facing failure: printed as one line (no stack trace), exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.failure,
    /** Extra lines worth showing (e.g. each invalid field of a spec). */
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}
