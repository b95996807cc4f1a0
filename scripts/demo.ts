/**
 * `npm run demo`: runs the demo on embedded defaults. REDIS_URL reuses a running Redis; otherwise
 * redis-server (Debian package redis-server) is started on a free port.
 */
import { DEMO_LEARNED_ACCURACY, runDemo } from '../test/demo/run-demo.js';

// See apps/cli/src/cli.ts: the SDK's Node 22 notice is noise in a demo.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const result = await runDemo({
  out: process.stdout,
  ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
  ...(process.env.SETRAIN_ENGINE ? { engine: process.env.SETRAIN_ENGINE } : {}),
});
// Learning, not luck: every held-out accuracy (orientation, colour, both) must reach 80%.
const learned = Object.values(result.accuracy).every((a) => a >= DEMO_LEARNED_ACCURACY);
if (!learned)
  console.error(`held-out accuracy below ${DEMO_LEARNED_ACCURACY * 100}%: the model did not learn`);
process.exitCode = learned ? 0 : 1;
