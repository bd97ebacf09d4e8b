import winston from 'winston';
import Transport from 'winston-transport';
import { createLogger, type Logger } from '../../src/config/logger.js';

/** Keeps every log entry in memory so tests can assert log lines. */
export class MemoryTransport extends Transport {
  readonly entries: Array<Record<string, unknown>> = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push({ ...info });
    next();
  }
}

/** A real logger (with redaction) that writes only to memory. */
export function memoryLogger(level = 'debug'): { logger: Logger; entries: Array<Record<string, unknown>> } {
  const transport = new MemoryTransport({ format: winston.format.json() });
  const logger = createLogger({ level, console: false, transports: [transport] });
  return { logger, entries: transport.entries };
}
