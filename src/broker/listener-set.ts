/**
 * A set of listeners whose exceptions never reach the emitter: one subscriber's bug must
 * not stop delivery to the others, nor fail the publisher.
 */
export class ListenerSet<Args extends unknown[]> {
  readonly #listeners = new Set<(...args: Args) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  get size(): number {
    return this.#listeners.size;
  }

  add(listener: (...args: Args) => void): () => void {
    // Wrapped so that the same function subscribed twice is called twice and each
    // unsubscribe removes exactly its own registration.
    const entry = (...args: Args): void => listener(...args);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(...args: Args): void {
    // Iterating the live Set would call listeners added during this emit; a snapshot
    // avoids that, and the `has` check honours unsubscribes made during it.
    for (const listener of [...this.#listeners]) {
      if (!this.#listeners.has(listener)) continue;
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
