import { loggerOptions, type LogLevel } from '@setrain/protocol';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The worker's pino logger: JSON lines on stderr with the same levels and fields as the API's
 * (`loggerOptions`), `service: "worker"` and the worker id on every line; trial loggers are
 * children carrying `trialId` and `sweepId`.
 */
export function createLogger(level: LogLevel = 'info', base: Record<string, unknown> = {}): Logger {
  return pino(loggerOptions(level, { service: 'worker', ...base }), pino.destination(2));
}
