/**
 * `npm run demo`: runs the demo on embedded defaults. REDIS_URL reuses a running Redis; otherwise
 * redis-server (Debian package redis-server) is started on a free port.
 */
import { runDemo } from '../test/demo/run-demo.js';

// See apps/cli/src/cli.ts: the SDK's Node 22 notice is noise in a demo.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const result = await runDemo({
  out: process.stdout,
  ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
  ...(process.env.SETRAIN_ENGINE ? { engine: process.env.SETRAIN_ENGINE } : {}),
});
process.exitCode = result.accuracy.both > result.chance.both ? 0 : 1;
