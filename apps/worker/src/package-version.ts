import { readFileSync } from 'node:fs';

/** This package's version, recorded in trial.json provenance (package.json is one level above src/ and dist/). */
export const WORKER_PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
