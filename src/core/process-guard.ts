/**
 * The last line of containment. Every request, socket event, timer and bot
 * callback contains its own errors; an error that still escapes to the process
 * (a library's callback throwing, a promise nobody awaited) is logged and
 * counted here instead of stopping the coordinator, because input from outside
 * must never be able to stop it. Only errors that mean the process can no
 * longer keep its promises stop it: the store is corrupt or its disk failed
 * (see `isFatal`), so a process manager can restart it on a healthy store.
 */
export interface ProcessGuardLogger {
  error(message: string, meta?: Record<string, unknown>): unknown;
}

/** SQLite codes after which the file store cannot be trusted to keep writes. */
const FATAL_SQLITE = /^SQLITE_(CORRUPT|NOTADB|IOERR|FULL|CANTOPEN|READONLY)/;

/** Whether an escaped error means the process must stop (a corrupt or failing store). */
export function isFatal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FATAL_SQLITE.test(code);
}

/**
 * Installs `unhandledRejection` / `uncaughtException` handlers that log (and so
 * count, through the error counter on the logger) and carry on, except for
 * fatal errors, which call `exit`. Returns the uninstaller.
 */
export function guardProcess(log: ProcessGuardLogger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onRejection = (reason: unknown) => {
    log.error('unhandled promise rejection (contained; this is a bug, please report it)', { module: 'process', error: reason });
    if (isFatal(reason)) exit(1);
  };
  const onException = (error: Error) => {
    log.error('uncaught exception (contained; this is a bug, please report it)', { module: 'process', error });
    if (isFatal(error)) exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
