/**
 * Awaits every promise, like Promise.all, but rejects only once all of them have settled, with the
 * first failure in input order: nothing started by the caller is still writing when it handles the
 * error, and of several failures it sees the one a sequential run would have hit first.
 */
export async function allSettledOrThrow<T extends readonly unknown[] | []>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled: readonly PromiseSettledResult<unknown>[] = await Promise.allSettled(promises);
  const failure = settled.find(
    (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
  );
  if (failure !== undefined) throw failure.reason;
  // Every outcome is fulfilled here, in input order: the values are the tuple T resolves to.
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
