/**
 * Imports a package that may be absent. Resolves to undefined when `specifier` itself is not
 * installed; rethrows anything else (a package that is present but fails to load must say why).
 * The specifier is a variable so TypeScript neither resolves it nor needs its types.
 */
export async function importOptional(
  specifier: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (isModuleNotFound(error, specifier)) return undefined;
    throw error;
  }
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // A missing dependency *of* the package is a broken install, not an absent package.
  return error.message.includes(`'${specifier}'`) || error.message.includes(`"${specifier}"`);
}

/** The message of an unknown thrown value, on one line. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
