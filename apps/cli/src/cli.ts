#!/usr/bin/env node
// Process entry of the `setrain` command: the only place that touches process.argv/env/exit.
import { runCli } from './main.js';

// The AWS SDK warns on every run that its 2027 releases will need Node 22; a CLI user cannot act on
// that, so keep their terminal clean unless they opted in to the warning explicitly.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  in: process.stdin,
  out: process.stdout,
  err: process.stderr,
});
process.exitCode = code;
