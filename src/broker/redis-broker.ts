import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import {
  type Broker,
  type BrokerLogger,
  type BrokerStats,
  BrokerUnavailableError,
  createConsoleBrokerLogger,
  emptyBrokerStats,
} from './broker.js';
import { ListenerSet } from './listener-set.js';

export const DEFAULT_CHANNEL_PREFIX = 'messenger';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /**
   * Channels are `<prefix>:events` (payloads) and `<prefix>:resync` (loss notices), so
   * several deployments can share one Redis. Default `messenger`.
   */
  channelPrefix?: string;
  /** Upper bound for publish, check and health pings. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Upper bound for one TCP connect attempt. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Reconnect backoff doubles from 100 ms up to this cap (with jitter). Default 5000 ms. */
  maxReconnectDelayMs?: number;
  /**
   * How often both connections are pinged; a failed ping forces a reconnect, so a
   * half-open TCP connection (peer gone without a FIN/RST) cannot swallow messages
   * unnoticed forever. 0 disables. Default 10000 ms.
   */
  healthCheckIntervalMs?: number;
  logger?: BrokerLogger;
}

type Role = 'publisher' | 'subscriber';

/**
 * Redis pub/sub broker. Two connections because a Redis connection in subscribe mode can
 * run nothing but (un)subscribe and ping.
 *
 * Publish while Redis is unreachable fails fast (no offline queue): a queued event would
 * arrive late and out of order with respect to the database, and the caller already has
 * to handle failure by letting subscribers resync. A publish that did reach a broken
 * connection rejects when the connection closes or after `commandTimeoutMs`.
 *
 * Loss is signalled through `onResync`, fired on this node when
 *  - its subscription comes back after its subscriber connection was down (also when the
 *    very first connection attempts failed), and
 *  - any node announces on `<prefix>:resync` that one of its publishes failed: that node
 *    sends the notice as soon as its publisher connection works again, because nodes whose
 *    own subscription never dropped would otherwise never learn that they missed an event.
 */
export class RedisBroker implements Broker {
  readonly #logger: BrokerLogger;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #eventsChannel: string;
  readonly #resyncChannel: string;
  readonly #commandTimeoutMs: number;
  readonly #nodeId = randomUUID();
  readonly #messageListeners: ListenerSet<[string]>;
  readonly #resyncListeners: ListenerSet<[]>;
  readonly #stats: BrokerStats = emptyBrokerStats();
  /** Publishes not yet answered by Redis; close() lets them go out first. */
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #everReady: Record<Role, boolean> = { publisher: false, subscriber: false };
  // Set at the first error of an outage so the log gets one line per outage, not one per
  // reconnect attempt.
  readonly #down: Record<Role, boolean> = { publisher: false, subscriber: false };
  readonly #healthTimer: NodeJS.Timeout | undefined;
  #subscribed = false;
  // True when messages may have been missed since the subscription was last active.
  #lossPossible = false;
  #resyncNoticePending = false;
  #resyncNoticeInFlight = false;
  #closed = false;

  constructor(options: RedisBrokerOptions) {
    this.#logger = options.logger ?? createConsoleBrokerLogger();
    const prefix = options.channelPrefix ?? DEFAULT_CHANNEL_PREFIX;
    this.#eventsChannel = `${prefix}:events`;
    this.#resyncChannel = `${prefix}:resync`;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    const maxDelay = options.maxReconnectDelayMs ?? 5000;

    const onListenerError = (error: unknown): void => {
      this.#stats.listenerErrors++;
      this.#logger.error({ err: error }, 'broker listener threw');
    };
    this.#messageListeners = new ListenerSet(onListenerError);
    this.#resyncListeners = new ListenerSet(onListenerError);

    const common: RedisOptions = {
      // Fail fast instead of queueing while disconnected (see class comment).
      enableOfflineQueue: false,
      // Reject in-flight commands when the connection drops instead of replaying them
      // after the reconnect; a replayed publish would be stale.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // Never give up: the broker must come back on its own after any outage. Jitter keeps
      // all nodes from reconnecting in lockstep after a Redis restart.
      retryStrategy: (attempt: number) => {
        const ceiling = Math.min(maxDelay, 100 * 2 ** Math.min(attempt - 1, 16));
        return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      },
    };
    this.#publisher = new Redis(options.url, {
      ...common,
      connectionName: `messenger-broker-pub-${this.#nodeId}`,
      // The events of one change (message.created and its message.status, say) are published
      // in the same tick: one write to Redis for all of them, still in order.
      enableAutoPipelining: true,
    });
    this.#subscriber = new Redis(options.url, {
      ...common,
      connectionName: `messenger-broker-sub-${this.#nodeId}`,
      // Re-subscribed by hand in #onSubscriberReady: ioredis's own resubscribe is sent after
      // its 'ready' event and gives no signal when it is confirmed, and resync must fire
      // only once the subscription is active again.
      autoResubscribe: false,
    });

    this.#watch(this.#publisher, 'publisher', () => this.#onPublisherReady());
    this.#watch(this.#subscriber, 'subscriber', () => {
      void this.#onSubscriberReady();
    });
    this.#subscriber.on('close', () => {
      // Every close, including a failed first attempt, opens a window in which published
      // messages are not received.
      this.#subscribed = false;
      this.#lossPossible = true;
    });
    this.#subscriber.on('message', (channel: string, message: string) =>
      this.#onMessage(channel, message),
    );

    const interval = options.healthCheckIntervalMs ?? 10_000;
    if (interval > 0) {
      this.#healthTimer = setInterval(() => this.#healthCheck(), interval);
      // Must not keep a process alive that is otherwise done.
      this.#healthTimer.unref();
    }
  }

  /** Names this node's connections (`CLIENT LIST`) and its resync notices, for diagnostics. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** Channel on which payloads travel (for diagnostics). */
  get channel(): string {
    return this.#eventsChannel;
  }

  async publish(message: string): Promise<void> {
    if (this.#closed) {
      this.#stats.publishFailures++;
      throw new BrokerUnavailableError('broker is closed');
    }
    try {
      if (this.#publisher.status !== 'ready') {
        throw new Error(`publisher connection is ${this.#publisher.status}`);
      }
      const sent = this.#publisher.publish(this.#eventsChannel, message);
      this.#inFlight.add(sent);
      try {
        await sent;
      } finally {
        this.#inFlight.delete(sent);
      }
    } catch (error) {
      this.#stats.publishFailures++;
      this.#resyncNoticePending = true;
      // Covers a timeout on a connection that stays up; after a drop, 'ready' sends it.
      this.#sendResyncNotice();
      throw new BrokerUnavailableError('redis publish failed', { cause: error });
    }
    this.#stats.published++;
    // An earlier notice may have failed on a connection that never dropped.
    this.#sendResyncNotice();
  }

  subscribe(listener: (message: string) => void): () => void {
    return this.#messageListeners.add(listener);
  }

  onResync(listener: () => void): () => void {
    return this.#resyncListeners.add(listener);
  }

  async check(): Promise<void> {
    if (this.#closed) throw new BrokerUnavailableError('broker is closed');
    if (this.#publisher.status !== 'ready') {
      throw new BrokerUnavailableError(`redis publisher connection is ${this.#publisher.status}`);
    }
    if (!this.#subscribed) throw new BrokerUnavailableError('redis subscription is not active');
    try {
      await Promise.all([this.#publisher.ping(), this.#subscriber.ping()]);
    } catch (error) {
      throw new BrokerUnavailableError('redis ping failed', { cause: error });
    }
  }

  stats(): BrokerStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#healthTimer);
    this.#messageListeners.clear();
    this.#resyncListeners.clear();
    // Auto-pipelined publishes are written on the next tick, QUIT at once: without this wait,
    // the events of the last requests a stopping node answered would never leave it.
    await Promise.allSettled(this.#inFlight);
    await Promise.all([quit(this.#publisher), quit(this.#subscriber)]);
  }

  #watch(connection: Redis, role: Role, onReady: () => void): void {
    connection.on('error', (error: unknown) => {
      if (this.#closed || this.#down[role]) return;
      this.#down[role] = true;
      this.#logger.warn({ err: error, role }, 'redis broker connection failed; reconnecting');
    });
    connection.on('ready', () => {
      if (this.#everReady[role]) this.#stats.reconnects++;
      this.#everReady[role] = true;
      if (this.#down[role]) {
        this.#down[role] = false;
        this.#logger.info({ role }, 'redis broker connection re-established');
      }
      onReady();
    });
  }

  #onPublisherReady(): void {
    this.#sendResyncNotice();
  }

  async #onSubscriberReady(): Promise<void> {
    try {
      await this.#subscriber.subscribe(this.#eventsChannel, this.#resyncChannel);
    } catch (error) {
      if (this.#closed) return;
      this.#logger.warn({ err: error }, 'redis broker subscribe failed; reconnecting');
      // A fresh connection gets a fresh 'ready' and so a new attempt.
      this.#subscriber.disconnect(true);
      return;
    }
    // The connection may have dropped again while SUBSCRIBE was in flight.
    if (this.#closed || this.#subscriber.status !== 'ready') return;
    this.#subscribed = true;
    if (this.#lossPossible) {
      this.#lossPossible = false;
      this.#fireResync('subscription restored');
    }
  }

  #onMessage(channel: string, message: string): void {
    if (this.#closed) return;
    if (channel === this.#eventsChannel) {
      this.#stats.received++;
      this.#messageListeners.emit(message);
    } else if (channel === this.#resyncChannel) {
      this.#fireResync(`publish failed on node ${message}`);
    }
  }

  #fireResync(reason: string): void {
    this.#stats.resyncs++;
    this.#logger.info({ reason }, 'redis broker asks for resync');
    this.#resyncListeners.emit();
  }

  #sendResyncNotice(): void {
    if (
      !this.#resyncNoticePending ||
      this.#resyncNoticeInFlight ||
      this.#closed ||
      this.#publisher.status !== 'ready'
    ) {
      return;
    }
    this.#resyncNoticePending = false;
    this.#resyncNoticeInFlight = true;
    this.#publisher
      .publish(this.#resyncChannel, this.#nodeId)
      .catch(() => {
        // Retried on the next 'ready' or the next publish.
        this.#resyncNoticePending = true;
      })
      .finally(() => {
        this.#resyncNoticeInFlight = false;
      });
  }

  #healthCheck(): void {
    const probe = (connection: Redis, role: Role, active: boolean): void => {
      if (!active || this.#closed) return;
      connection.ping().catch((error: unknown) => {
        if (this.#closed || connection.status !== 'ready') return;
        this.#logger.warn({ err: error, role }, 'redis broker ping failed; reconnecting');
        connection.disconnect(true);
      });
    };
    probe(this.#publisher, 'publisher', this.#publisher.status === 'ready');
    probe(this.#subscriber, 'subscriber', this.#subscribed);
  }
}

async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // Fall through: the connection broke while quitting.
    }
  }
  // Also stops a pending reconnect timer.
  connection.disconnect();
}
