/**
 * A sweep record write lost its compare-and-set: someone (another replica holding the lock after
 * ours expired) wrote a newer version in between. The write is dropped; the caller re-reads.
 */
export class StaleSweepWriteError extends Error {
  override readonly name = 'StaleSweepWriteError';

  constructor(
    readonly sweepId: string,
    readonly readVersion: number,
  ) {
    super(
      `sweep ${sweepId} changed since it was read at version ${readVersion}; the write was dropped`,
    );
  }
}
