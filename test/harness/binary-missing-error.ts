import { HarnessError } from './harness-error.js';

/** A service binary the tests need is not on PATH. */
export class BinaryMissingError extends HarnessError {
  readonly code = 'HARNESS_BINARY_MISSING' as const;

  constructor(
    readonly binary: string,
    readonly debianPackage: string,
  ) {
    super(
      `${binary} not found on PATH; install the Debian package "${debianPackage}" (apt-get install ${debianPackage}, or run scripts/install-system-deps.sh)`,
    );
  }
}
