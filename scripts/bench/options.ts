// Command-line helpers shared by the benchmarks.

/** `text` as an integer in `min..max`, `fallback` when absent; otherwise an error naming `--name`. */
export function intOption(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new Error(`--${name} must be an integer ${range}, got ${text}`);
  }
  return value;
}
