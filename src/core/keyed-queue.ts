/**
 * Runs tasks one at a time per key (different keys run concurrently), so two
 * messages from the same contact never race on its records. A task's result
 * or failure goes to its own caller; a failure never stops the tasks queued
 * after it.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    // `tail` only orders the key's next task after this one, whether it succeeded or not; this task's
    // failure reaches its caller through `next` (returned below), so it is reported there, not here.
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves when every queued task has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
