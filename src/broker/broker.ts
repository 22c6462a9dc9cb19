/**
 * Fan-out of already-committed changes to every server node.
 *
 * The broker is only a hint: the database is the truth. A lost message is acceptable as
 * long as the broker says so, which it does in two ways: `publish` rejects (the caller
 * must not roll anything back, the change is committed), and `onResync` listeners fire
 * once delivery works again after a window in which messages may have been lost. Users
 * then fill the gap from the database.
 */
export interface Broker {
  /**
   * Sends an opaque, already-encoded payload to every subscriber on every node (this one
   * included). Resolves once the broker accepted it; rejects with BrokerUnavailableError
   * within a bounded time when it cannot. It never throws because a listener threw.
   */
  publish(message: string): Promise<void>;
  /** Adds a listener for every published payload; returns the function that removes it. */
  subscribe(listener: (message: string) => void): () => void;
  /**
   * Adds a listener called when delivery works again after messages may have been lost
   * (fired after the subscription is active again, so a resync from the database that
   * starts then misses nothing). Returns the function that removes it.
   */
  onResync(listener: () => void): () => void;
  /** Readiness: resolves when the broker can deliver, rejects (bounded in time) when not. */
  check(): Promise<void>;
  /** Counters for metrics; a snapshot, cheap to call. */
  stats(): BrokerStats;
  /** Stops delivery and releases connections. Idempotent; later publishes reject. */
  close(): Promise<void>;
}

export interface BrokerStats {
  /** Payloads the broker accepted. */
  published: number;
  /** Publishes that rejected. */
  publishFailures: number;
  /** Payloads received from the broker (counted once per payload, not per listener). */
  received: number;
  /** Listener calls that threw. */
  listenerErrors: number;
  /** Connections to the broker re-established after they had been up (0 in-process). */
  reconnects: number;
  /** Times the onResync listeners were fired (0 in-process). */
  resyncs: number;
}

/** Fresh counters for a broker implementation. */
export function emptyBrokerStats(): BrokerStats {
  return {
    published: 0,
    publishFailures: 0,
    received: 0,
    listenerErrors: 0,
    reconnects: 0,
    resyncs: 0,
  };
}

/** Minimal logger shape; Fastify's (pino) logger satisfies it. */
export interface BrokerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The broker cannot take the message now (down, timed out, or closed). */
export class BrokerUnavailableError extends Error {
  readonly code = 'broker_unavailable';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** Used when the caller gives no logger, so that swallowed errors are still visible. */
export function createConsoleBrokerLogger(): BrokerLogger {
  return {
    info: (obj, msg) => console.info(`[broker] ${msg}`, obj),
    warn: (obj, msg) => console.warn(`[broker] ${msg}`, obj),
    error: (obj, msg) => console.error(`[broker] ${msg}`, obj),
  };
}
