import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import { redact, redactText } from './redact.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: string;
  /** Folder for `coordinator-%DATE%.log`; omit for console only. */
  dir?: string;
  retentionDays?: number;
  console?: boolean;
  /** Extra transport, e.g. an in-memory one in tests. */
  transports?: winston.transport[];
}

/** Masks secrets in the message and every metadata field, before any transport sees them. */
const redactFormat = winston.format((info) => {
  const { level, message, ...rest } = info;
  const clean = redact(rest);
  for (const key of Object.keys(rest)) delete (info as Record<string, unknown>)[key];
  Object.assign(info, clean, { level, message: typeof message === 'string' ? redactText(message) : redact(message) });
  // Symbols (winston's own bookkeeping) are kept by Object.keys skipping them.
  return info;
});

/**
 * JSON lines to `LOG_DIR/coordinator-%DATE%.log` (daily rotation, retention in
 * days) plus readable console output. Modules get child loggers:
 * `logger.child({ module: 'health', agentId })`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const transports: winston.transport[] = [...(options.transports ?? [])];
  if (options.dir) {
    transports.push(
      new DailyRotateFile({
        dirname: options.dir,
        filename: 'coordinator-%DATE%.log',
        datePattern: 'YYYY-MM-DD',
        maxFiles: `${options.retentionDays ?? 14}d`,
        format: winston.format.json(),
      }),
    );
  }
  if (options.console !== false) {
    transports.push(
      new winston.transports.Console({
        stderrLevels: ['error', 'warn'],
        format: winston.format.combine(
          winston.format.colorize({ all: false }),
          winston.format.printf((info) => {
            const { level, message, timestamp, module, ...meta } = info as Record<string, unknown>;
            const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp).slice(11, 23)} ${level}${module ? ` [${String(module)}]` : ''} ${String(message)}${extra}`;
          }),
        ),
      }),
    );
  }
  const logger: Logger = winston.createLogger({ level: options.level, transports });
  // winston formats every line before its transports filter by level: a line below the logger's level
  // (read at each line: `PATCH /config` changes it) is dropped first, before redaction and timestamps.
  // A transport with a more verbose level of its own still gets its lines.
  const threshold = () => Math.max(logger.levels[logger.level] ?? 0, ...logger.transports.map((t) => (t.level ? (logger.levels[t.level] ?? 0) : 0)));
  const levelGate = winston.format((info) => ((logger.levels[info.level] ?? 0) <= threshold() ? info : false));
  logger.format = winston.format.combine(levelGate(), redactFormat(), winston.format.timestamp(), winston.format.errors({ stack: false }));
  return logger;
}

/**
 * Flushes every transport, the rotating file included, before the process
 * exits. A DailyRotateFile emits 'finish' for its own stream only from
 * `close()`, after the file stream has flushed; the logger's 'finish' comes sooner.
 */
export function closeLogger(logger: Logger): Promise<void> {
  // Twice (a fail-stop exit and a graceful stop at once) is the same close: 'finish' comes only once.
  let closing = closings.get(logger);
  if (!closing) {
    closing = close(logger);
    closings.set(logger, closing);
  }
  return closing;
}

const closings = new WeakMap<Logger, Promise<void>>();

async function close(logger: Logger): Promise<void> {
  const files = logger.transports.filter((t): t is DailyRotateFile => t instanceof DailyRotateFile);
  // A line logged after this (a late callback during shutdown) is dropped, not an unhandled "write after end".
  logger.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ERR_STREAM_WRITE_AFTER_END') process.stderr.write(`logger failed: ${error.message}\n`);
  });
  await new Promise<void>((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
  });
  const flushed = files.map(
    (file) =>
      new Promise<void>((resolve) => {
        file.once('finish', () => resolve());
        file.close?.();
      }),
  );
  await Promise.race([Promise.all(flushed), new Promise((r) => setTimeout(r, 2000).unref())]);
}
