import type { ChildProcess } from 'node:child_process';

/**
 * Kills a child process (SIGKILL) if it still runs and waits until it has
 * exited and its pipes are closed, so nothing of it outlives the test file
 * (a child or pipe left behind keeps the Jest worker from exiting).
 */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    if (child.stdout?.closed === false || child.stderr?.closed === false) await new Promise((resolve) => child.once('close', resolve));
    return;
  }
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}
