import {
  type Broker,
  type BrokerLogger,
  type BrokerStats,
  BrokerUnavailableError,
  createConsoleBrokerLogger,
  emptyBrokerStats,
} from './broker.js';
import { ListenerSet } from './listener-set.js';

export interface InProcessBrokerOptions {
  logger?: BrokerLogger;
}

/**
 * Single-node broker. Delivery happens in a microtask rather than inside `publish`: the
 * publisher's code never runs listeners re-entrantly, and a listener that publishes
 * cannot make others see its message before the one being delivered (microtasks are
 * FIFO, so every listener sees one global order).
 */
export class InProcessBroker implements Broker {
  readonly #logger: BrokerLogger;
  readonly #messageListeners: ListenerSet<[string]>;
  // Never fired: nothing can be lost in-process. Kept so the interface holds.
  readonly #resyncListeners: ListenerSet<[]>;
  readonly #stats: BrokerStats = emptyBrokerStats();
  #closed = false;

  constructor(options: InProcessBrokerOptions = {}) {
    this.#logger = options.logger ?? createConsoleBrokerLogger();
    const onListenerError = (error: unknown): void => {
      this.#stats.listenerErrors++;
      this.#logger.error({ err: error }, 'broker listener threw');
    };
    this.#messageListeners = new ListenerSet(onListenerError);
    this.#resyncListeners = new ListenerSet(onListenerError);
  }

  publish(message: string): Promise<void> {
    if (this.#closed) {
      this.#stats.publishFailures++;
      return Promise.reject(new BrokerUnavailableError('broker is closed'));
    }
    this.#stats.published++;
    queueMicrotask(() => {
      // A close between publish and delivery drops the message, like a real broker would.
      if (this.#closed) return;
      this.#stats.received++;
      this.#messageListeners.emit(message);
    });
    return Promise.resolve();
  }

  subscribe(listener: (message: string) => void): () => void {
    return this.#messageListeners.add(listener);
  }

  onResync(listener: () => void): () => void {
    return this.#resyncListeners.add(listener);
  }

  check(): Promise<void> {
    return this.#closed
      ? Promise.reject(new BrokerUnavailableError('broker is closed'))
      : Promise.resolve();
  }

  stats(): BrokerStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#messageListeners.clear();
    this.#resyncListeners.clear();
  }
}
