/** A set of listeners for one kind of event: `add` returns the unsubscribe function. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  /**
   * Calls every listener, even when one throws: a failing listener must not
   * keep the event from the others. The first failure is rethrown afterwards,
   * so the emitter's own containment still logs it.
   */
  emit(value: T): void {
    let failed = false;
    let failure: unknown;
    for (const listener of [...this.set]) {
      try {
        listener(value);
      } catch (error) {
        if (!failed) [failed, failure] = [true, error];
      }
    }
    if (failed) throw failure;
  }
}
