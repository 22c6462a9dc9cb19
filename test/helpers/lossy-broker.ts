import type { Broker, BrokerStats } from '../../src/broker/broker.js';
import { InProcessBroker } from '../../src/broker/in-process-broker.js';

/**
 * An in-process broker a test can make lose, delay or reorder events, and tell to fire
 * `onResync`, to exercise the WebSocket layer's recovery from the database.
 */
export class LossyBroker implements Broker {
  readonly #inner = new InProcessBroker({
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  readonly #resyncListeners = new Set<() => void>();
  readonly #held: string[] = [];
  /** Returns true to drop a payload (it is still "accepted", like a lossy network). */
  drop: (payload: string) => boolean = () => false;
  /** Returns true to hold a payload back until `releaseHeld()`. */
  hold: (payload: string) => boolean = () => false;
  dropped = 0;

  publish(message: string): Promise<void> {
    if (this.drop(message)) {
      this.dropped++;
      return Promise.resolve();
    }
    if (this.hold(message)) {
      this.#held.push(message);
      return Promise.resolve();
    }
    return this.#inner.publish(message);
  }

  /** Delivers held payloads now, in the order they were published. */
  async releaseHeld(): Promise<void> {
    for (const message of this.#held.splice(0)) await this.#inner.publish(message);
  }

  subscribe(listener: (message: string) => void): () => void {
    return this.#inner.subscribe(listener);
  }

  onResync(listener: () => void): () => void {
    const entry = (): void => listener();
    this.#resyncListeners.add(entry);
    return () => this.#resyncListeners.delete(entry);
  }

  fireResync(): void {
    for (const listener of [...this.#resyncListeners]) listener();
  }

  reset(): void {
    this.drop = () => false;
    this.hold = () => false;
    this.#held.length = 0;
  }

  check(): Promise<void> {
    return this.#inner.check();
  }

  stats(): BrokerStats {
    return this.#inner.stats();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The routing header of a payload (see src/realtime/wire.ts). */
export function headerOf(payload: string): { type: string; chat_id: string; seq: number | null } {
  return JSON.parse(payload.slice(0, payload.indexOf('\n')));
}
