import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { Broker } from '../broker/broker.js';
import type { WsConfig } from '../config.js';
import { WriteBatch } from './batch.js';
import { Connection, type ConnectionContext, MAX_PENDING, type ResyncRound } from './connection.js';
import { ExpiryQueue } from './expiry.js';
import type { ChangeFeed, Membership } from './feed.js';
import { ChatOrder } from './order.js';
import { CloseCode } from './protocol.js';
import { emptyStats, type RealtimeStats } from './stats.js';
import { decodeEvent, type LiveEvent } from './wire.js';

/** Connections resyncing at the same time after a broker outage (bounds the database load). */
const RESYNC_CONCURRENCY = 16;
/**
 * How long an event that overtook earlier positions of its chat waits for them on the node
 * (order.ts). Overtaking between concurrent sends is a matter of milliseconds; a position
 * still missing after this is filled from the database by each connection, as without it.
 */
export const REORDER_WINDOW_MS = 50;

type DecodedEvent = ReturnType<typeof decodeEvent>;

interface Sink {
  deliver(event: LiveEvent): void;
}

/**
 * Collects a user's live events while their connection is being set up (authenticated,
 * membership snapshot read, upgrade not yet done), so nothing committed after the snapshot
 * is missed.
 */
export class PendingSubscriber implements Sink {
  readonly events: LiveEvent[] = [];
  overflowed = false;

  constructor(
    readonly userId: string,
    readonly cancel: () => void,
  ) {}

  deliver(event: LiveEvent): void {
    if (this.events.length >= MAX_PENDING) this.overflowed = true;
    else this.events.push(event);
  }
}

/**
 * The node's side of fan-out: one broker subscription, the local registry of user →
 * sinks (connections and connections being set up), server pings, broker resyncs and
 * shutdown. Each event is decoded once and its frame bytes shared by every local socket.
 */
export class RealtimeHub {
  readonly #sinks = new Map<string, Set<Sink>>();
  readonly #connections = new Set<Connection>();
  readonly #stats = emptyStats();
  readonly #expiry = new ExpiryQueue<Connection>();
  readonly #context: ConnectionContext;
  readonly #order: ChatOrder<DecodedEvent>;
  readonly #batch = new WriteBatch();
  /** Events passed on by #order and not yet delivered: delivered together, see #flush. */
  #outgoing: DecodedEvent[] = [];
  readonly #flush = (): void => this.#deliverOutgoing();
  #unsubscribe: (() => void) | undefined;
  #unresync: (() => void) | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #closedWaiters = new Set<() => void>();
  #stopped = false;

  constructor(
    private readonly broker: Broker,
    private readonly feed: ChangeFeed,
    private readonly settings: WsConfig,
    private readonly logger: FastifyBaseLogger,
    reorderWindowMs = REORDER_WINDOW_MS,
  ) {
    this.#order = new ChatOrder(
      reorderWindowMs,
      (event) => this.#dispatch(event),
      () => this.#stats.reorderHolds++,
      () => this.#stats.reorderExpired++,
    );
    this.#context = {
      feed,
      settings,
      stats: this.#stats,
      log: logger,
      expiry: this.#expiry,
      batch: this.#batch,
      onClosed: (connection) => this.#onClosed(connection),
    };
  }

  start(): void {
    this.#unsubscribe = this.broker.subscribe((payload) => this.#onPayload(payload));
    this.#unresync = this.broker.onResync(() => this.#onResync());
    if (this.settings.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => {
        for (const connection of this.#connections) connection.heartbeat();
      }, this.settings.pingIntervalMs);
      this.#pingTimer.unref();
    }
  }

  stats(): RealtimeStats {
    return { ...this.#stats, connections: this.#connections.size };
  }

  /** Starts collecting a user's events before their membership snapshot is read. */
  preRegister(userId: string): PendingSubscriber {
    const pending: PendingSubscriber = new PendingSubscriber(userId, () =>
      this.#removeSink(userId, pending),
    );
    this.#addSink(userId, pending);
    return pending;
  }

  /** Turns a pending subscriber into a live connection on its upgraded socket. */
  attach(
    pending: PendingSubscriber,
    ws: WebSocket,
    options: {
      expiresAt: number;
      memberships: Map<string, Membership>;
      reqId: string;
      tcp: Socket | undefined;
    },
  ): Connection | undefined {
    pending.cancel();
    if (this.#stopped) {
      ws.close(CloseCode.serviceRestart, 'server restarting');
      return undefined;
    }
    const connection = new Connection(pending.userId, ws, {
      expiresAt: options.expiresAt,
      memberships: options.memberships,
      pending: pending.events,
      context: this.#context,
      reqId: options.reqId,
      tcp: options.tcp,
    });
    if (!connection.open) return undefined;
    this.#stats.accepted++;
    this.#connections.add(connection);
    this.#addSink(pending.userId, connection);
    if (pending.overflowed) connection.close(CloseCode.slowConsumer, 'slow consumer');
    return connection;
  }

  /**
   * Graceful shutdown: closes every connection with 1012 and waits (bounded) for the
   * closing handshakes, then drops what is left.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pingTimer);
    this.#expiry.stop();
    this.#order.stop();
    this.#unsubscribe?.();
    this.#unresync?.();
    for (const connection of this.#connections) {
      connection.close(CloseCode.serviceRestart, 'server restarting; reconnect and resume');
    }
    if (this.#connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#closedWaiters.add(done);
      });
    }
    for (const connection of this.#connections) connection.terminate();
  }

  #onPayload(payload: string): void {
    let event: DecodedEvent;
    try {
      event = decodeEvent(payload);
    } catch (error) {
      this.#stats.badPayloads++;
      this.logger.warn({ err: error }, 'undecodable event from the broker');
      return;
    }
    if (!this.#hasLocalRecipient(event.recipients)) {
      // A message event goes to every participant: none is here, so the node need not
      // remember the chat's position (a later subscriber starts it afresh).
      if (event.seq !== null) this.#order.forget(event.chatId);
      return;
    }
    this.#order.accept(event);
  }

  #hasLocalRecipient(recipients: string[]): boolean {
    for (const recipient of recipients) if (this.#sinks.has(recipient)) return true;
    return false;
  }

  /** Queues an event passed on by #order (in order) for delivery at the end of this turn. */
  #dispatch(event: DecodedEvent): void {
    if (this.#outgoing.push(event) === 1) process.nextTick(this.#flush);
  }

  /**
   * Delivers the events of this turn. Several at once share one write per socket (see
   * batch.ts); a lone event is written directly.
   */
  #deliverOutgoing(): void {
    const events = this.#outgoing;
    if (events.length === 0) return;
    this.#outgoing = [];
    if (events.length === 1) {
      this.#deliver(events[0]!);
      return;
    }
    this.#batch.begin();
    try {
      for (const event of events) this.#deliver(event);
    } finally {
      this.#batch.end();
    }
  }

  /** Hands an event to its local recipients; never throws (this runs in a process tick). */
  #deliver(event: DecodedEvent): void {
    try {
      this.#deliverTo(event);
    } catch (error) {
      // One event's failure must not take the others of the turn with it, nor the process.
      this.#stats.internalErrors++;
      this.logger.error({ err: error, type: event.type }, 'event delivery failed');
    }
  }

  #deliverTo(event: DecodedEvent): void {
    let live: LiveEvent | undefined;
    for (const recipient of event.recipients) {
      const sinks = this.#sinks.get(recipient);
      if (!sinks) continue;
      // Built once per event, on the first local recipient; every socket shares the frame.
      live ??= {
        recipients: event.recipients,
        type: event.type,
        chatId: event.chatId,
        seq: event.seq,
        lastSeq: event.lastSeq,
        bytes: event.frame(),
      };
      for (const sink of sinks) sink.deliver(live);
    }
  }

  #onResync(): void {
    // What the held chats wait for may be among the lost events: release them now.
    this.#order.flushAll();
    this.logger.info({ connections: this.#connections.size }, 'resyncing subscribers');
    const statuses = new Map<string, Promise<LiveEvent[]>>();
    const round: ResyncRound = {
      statusOf: (chatId) => {
        let status = statuses.get(chatId);
        if (!status) {
          status = this.feed.currentStatus(chatId);
          statuses.set(chatId, status);
        }
        return status;
      },
    };
    const queue = [...this.#connections];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) await next.resync(round);
    };
    void Promise.all(Array.from({ length: Math.min(RESYNC_CONCURRENCY, queue.length) }, worker));
  }

  #addSink(userId: string, sink: Sink): void {
    let sinks = this.#sinks.get(userId);
    if (!sinks) {
      sinks = new Set();
      this.#sinks.set(userId, sinks);
    }
    sinks.add(sink);
  }

  #removeSink(userId: string, sink: Sink): void {
    const sinks = this.#sinks.get(userId);
    if (!sinks) return;
    sinks.delete(sink);
    if (sinks.size === 0) this.#sinks.delete(userId);
  }

  #onClosed(connection: Connection): void {
    this.#connections.delete(connection);
    this.#removeSink(connection.userId, connection);
    if (this.#connections.size === 0) {
      for (const waiter of this.#closedWaiters) waiter();
      this.#closedWaiters.clear();
    }
  }
}
