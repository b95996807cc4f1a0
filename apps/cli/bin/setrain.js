#!/usr/bin/env node
// Runs the built CLI (dist/, after `npm run build`) when present. In a source checkout without a
// build it runs the TypeScript sources through tsx, with the `source` export condition so the
// workspace packages resolve to their sources too; `npx setrain` then works right after `npm ci`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (existsSync(built)) {
  await import(new URL('../dist/cli.js', import.meta.url).href);
} else {
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  // Resolved from here, not from the working directory: `npx setrain` runs from any folder.
  const tsx = import.meta.resolve('tsx');
  const result = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', tsx, source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exitCode = result.status ?? 1;
}
