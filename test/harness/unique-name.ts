let counter = 0;
/** Distinguishes runs started in the same millisecond on other machines sharing a service. */
const runTag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`;

/**
 * A name unique to this process and call, valid as an S3 bucket name, a BullMQ queue prefix and a
 * file name: lowercase letters, digits and '-', at most 63 characters, e.g. `bucket-k2j3x9ab-7`.
 */
export function uniqueName(prefix: string): string {
  const cleanPrefix = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  counter += 1;
  const suffix = `${runTag}-${counter}`;
  const head = (cleanPrefix || 'x').slice(0, 63 - suffix.length - 1);
  return `${head}-${suffix}`;
}

/**
 * A BullMQ `prefix` for one test, so tests sharing a Redis never see each other's queues. It is a
 * Redis Cluster hash tag (`{...}`) like the production prefix, so flows behave the same.
 */
export function uniqueQueuePrefix(label = 'test'): string {
  return `{${uniqueName(`bull-${label}`)}}`;
}
