#!/usr/bin/env node
// Process entry of the `setrain` command: the only place that touches process.argv/env/exit.
import { runCli } from './main.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  in: process.stdin,
  out: process.stdout,
  err: process.stderr,
});
process.exitCode = code;
