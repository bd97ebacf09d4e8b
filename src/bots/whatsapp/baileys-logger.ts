import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js';
import type { Logger } from '../../config/logger.js';

/**
 * A quiet pino-shaped logger for Baileys, bridged to our winston logger:
 * Baileys' trace/debug/info chatter is dropped, its warnings and errors go to
 * our `debug` level (the bot itself logs what an operator needs to know).
 */
export function baileysLogger(logger: Logger, bindings: Record<string, unknown> = {}): ILogger {
  const forward = (level: string) => (obj: unknown, msg?: string) => {
    const text = msg ?? (typeof obj === 'string' ? obj : 'baileys');
    const meta = typeof obj === 'object' && obj !== null ? { ...bindings, baileysLevel: level, detail: obj } : { ...bindings, baileysLevel: level };
    logger.debug(`baileys: ${text}`, meta);
  };
  const drop = () => undefined;
  return {
    level: 'warn',
    child: (obj) => baileysLogger(logger, { ...bindings, ...obj }),
    trace: drop,
    debug: drop,
    info: drop,
    warn: forward('warn'),
    error: forward('error'),
  };
}
