/**
 * The worker process: reads its configuration once, starts the BullMQ worker and stops gracefully on
 * SIGTERM/SIGINT (the running trial goes back to the queue, resumable, without using an attempt).
 * The stop is bounded by SETRAIN_SHUTDOWN_TIMEOUT_SECONDS: past it (e.g. Redis unreachable) the
 * trainer is killed and the process exits with status 1.
 */
import { loadWorkerConfig } from './config.js';
import { createLogger } from './logger.js';
import { startWorker } from './job-holder/worker-runtime.js';
import { errorMessage } from './worker-error.js';

const config = loadWorkerConfig();
const logger = createLogger(config.logLevel, { workerId: config.workerId });
const runtime = await startWorker({ config, logger }).catch((error: unknown) => {
  // Preflight or connection failure: say why and exit non-zero (an orchestrator restarts or alerts).
  logger.error({ error: errorMessage(error) }, 'worker cannot start');
  process.exit(1);
});

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  runtime.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ error: errorMessage(error) }, 'unclean stop');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
