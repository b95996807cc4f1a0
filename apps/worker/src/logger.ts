/** Structured log lines (one JSON object per line), the shape log shippers parse without config. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger writing JSON lines to stderr at or above `level`. */
export function createLogger(level: LogLevel = 'info', base: Record<string, unknown> = {}): Logger {
  const write = (lineLevel: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (RANK[lineLevel] < RANK[level]) return;
    const line = {
      time: new Date().toISOString(),
      level: lineLevel,
      msg: message,
      ...base,
      ...fields,
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  };
  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}
