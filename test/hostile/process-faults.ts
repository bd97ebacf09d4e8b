import { runInThisContext } from 'node:vm';

/**
 * Records unhandled rejections and uncaught exceptions on the REAL process.
 * Jest gives each test file a copy of `process` whose listeners never fire
 * (checked: a listener added to it saw nothing while jest-circus, on the real
 * one, saw the rejection), so the real object is taken from Node's own context.
 * Call `stop()` when done; `faults` lists what fired meanwhile.
 */
export function watchProcessFaults(): { faults: Array<{ kind: string; error: unknown }>; stop: () => void } {
  const real = runInThisContext('process') as NodeJS.Process;
  const faults: Array<{ kind: string; error: unknown }> = [];
  const onRejection = (error: unknown) => faults.push({ kind: 'unhandledRejection', error });
  const onException = (error: unknown) => faults.push({ kind: 'uncaughtException', error });
  real.on('unhandledRejection', onRejection);
  real.on('uncaughtException', onException);
  return {
    faults,
    stop: () => {
      real.off('unhandledRejection', onRejection);
      real.off('uncaughtException', onException);
    },
  };
}
