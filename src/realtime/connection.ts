import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { WsConfig } from '../config.js';
import type { WriteBatch } from './batch.js';
import type { Expirable, ExpiryQueue } from './expiry.js';
import type { ChangeFeed, Membership } from './feed.js';
import { framePayload } from './frame.js';
import {
  CloseCode,
  errorFrame,
  type FrameError,
  isUuid,
  PONG,
  parseClientFrame,
  RESUMED,
} from './protocol.js';
import type { RealtimeStats } from './stats.js';
import { type LiveEvent, localEvent } from './wire.js';

/** Rows per database read when replaying or filling a gap. */
const PAGE = 500;
/**
 * Live events held per chat while it catches up from the database: at most this many, and
 * at most half the send queue bound in bytes. Beyond, they are dropped and the database is
 * read again (it has them), paced like any replay.
 */
const MAX_BUFFERED_PER_CHAT = 2_000;
/** Live events collected for a connection that is still being set up; beyond, it is too slow. */
export const MAX_PENDING = 10_000;
/** `resume` frames waiting to be served; more is a client error, not work to queue. */
const MAX_QUEUED_RESUMES = 16;
/** After the server sends a close frame, how long the client has to answer it. */
const CLOSE_GRACE_MS = 5_000;
/** The job chain of a connection with no database work yet (one shared settled promise). */
const NO_JOBS: Promise<void> = Promise.resolve();

/** What one connection knows about one of the user's chats. */
interface ChatState {
  readonly chatId: string;
  /**
   * Every change in (floor, last] has been delivered on this connection (a change that a
   * newer change of the same message superseded counts as delivered with it).
   */
  floor: number;
  last: number;
  /** Jobs (gap fill, resume, resync) that need the chat's live events held back. */
  holds: number;
  /**
   * Held live message events (with seq); undefined when none. Both lists are made only
   * when needed: every connection has a state per chat of its user, nearly all idle, and
   * two empty arrays each cost 64 bytes per chat per socket.
   */
  buffer: LiveEvent[] | undefined;
  bufferedBytes: number;
  /** Held events without seq (status, chat.*), delivered in order once the chat is live. */
  deferred: LiveEvent[] | undefined;
  /** Held events were dropped: the database must be read again before going live. */
  overflowed: boolean;
  deleted: boolean;
  /** Created for a `resume` of a chat the connection did not know; membership unconfirmed. */
  tentative: boolean;
  /** Generation at creation, to tell states older than a membership snapshot. */
  readonly born: number;
}

export interface ConnectionContext {
  feed: ChangeFeed;
  settings: WsConfig;
  stats: RealtimeStats;
  /** The node's logger: connections log rarely, so none keeps a child logger of its own. */
  log: FastifyBaseLogger;
  /** Token expiries of every connection of the node, on one timer. */
  expiry: ExpiryQueue<Connection>;
  /** Event frames written in one turn of the event loop go out in one call per socket. */
  batch: WriteBatch;
  onClosed(connection: Connection): void;
}

/** One broker resync across the node's connections; shares reads between them. */
export interface ResyncRound {
  statusOf(chatId: string): Promise<LiveEvent[]>;
}

let generation = 0;

/** Holds an event without seq until the chat is live again; the list exists only while needed. */
function defer(state: ChatState, event: LiveEvent): void {
  if (state.deferred) state.deferred.push(event);
  else state.deferred = [event];
}

/**
 * One WebSocket subscriber. Live events come in through `deliver` (from the hub), are
 * checked against the chat's last delivered position, and either go out at once, are
 * dropped as duplicates, or trigger a catch-up from the database when positions are
 * missing. All database work of a connection runs one job at a time, in order.
 */
export class Connection implements Expirable {
  readonly #ws: WebSocket;
  /**
   * The TCP socket under #ws, to which event frames (built once per event, see frame.ts)
   * are written directly. Undefined when ws has to frame them itself: permessage-deflate
   * was negotiated (compression is per connection), or there is no TCP socket.
   */
  readonly #tcp: Socket | undefined;
  readonly #ctx: ConnectionContext;
  /** The upgrade request's id, to tie this connection's log lines to it. */
  readonly #reqId: string;
  /** When the token expires (seconds since the epoch). */
  readonly #expiresAt: number;
  readonly #chats = new Map<string, ChatState>();
  #state: 'open' | 'closing' | 'closed' = 'open';
  #jobs: Promise<void> = NO_JOBS;
  #ready: boolean;
  #pending: LiveEvent[] = [];
  #pendingBytes = 0;
  #queuedResumes = 0;
  #awaitingPong = false;
  #holdTimer: NodeJS.Timeout | undefined;
  #terminateTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly userId: string,
    ws: WebSocket,
    options: {
      expiresAt: number;
      memberships: Map<string, Membership>;
      /** Events received between the membership snapshot and now. */
      pending: LiveEvent[];
      context: ConnectionContext;
      reqId: string;
      /** The socket ws was handed at the upgrade. */
      tcp: Socket | undefined;
    },
  ) {
    this.#ws = ws;
    this.#tcp = ws.extensions === '' ? options.tcp : undefined;
    this.#ctx = options.context;
    this.#reqId = options.reqId;
    this.#expiresAt = options.expiresAt;
    // Listeners first, before anything can yield: no client frame may be missed.
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#awaitingPong = false;
    });
    ws.on('close', () => this.#onClose());

    for (const [chatId, membership] of options.memberships) {
      const state = this.#newState(chatId, membership.lastSeq);
      state.deleted = membership.deleted;
    }
    this.#pending = options.pending;
    this.#pendingBytes = options.pending.reduce((sum, event) => sum + event.bytes.length, 0);
    const hold = this.#ctx.settings.resumeHoldMs;
    this.#ready = hold === 0;
    if (this.#ready) {
      this.#flushPending();
    } else {
      this.#holdTimer = setTimeout(() => this.#release(), hold);
    }
    if (this.#state !== 'open') return;
    if (options.expiresAt * 1000 <= Date.now()) {
      this.close(CloseCode.tokenExpired, 'token expired');
      return;
    }
    this.#ctx.expiry.add(this, options.expiresAt);
  }

  get open(): boolean {
    return this.#state === 'open';
  }

  /** A live event for this connection's user (from the broker, through the hub). */
  deliver(event: LiveEvent): void {
    if (this.#state !== 'open') return;
    if (!this.#ready) {
      this.#pending.push(event);
      this.#pendingBytes += event.bytes.length;
      // So much traffic before any resume: stop waiting for one rather than pile it up.
      if (this.#pendingBytes > this.#ctx.settings.sendQueueBytes / 2) this.#release();
      return;
    }
    this.#route(event);
  }

  /** Called every ping interval: drops a connection that did not answer the previous ping. */
  heartbeat(): void {
    if (this.#state !== 'open') return;
    if (this.#awaitingPong) {
      this.#ctx.stats.deadConnectionsDropped++;
      this.#ctx.log.debug(
        { reqId: this.#reqId, userId: this.userId },
        'websocket missed its pong; dropping',
      );
      this.#ws.terminate();
      return;
    }
    this.#awaitingPong = true;
    try {
      this.#ws.ping();
    } catch {
      // The socket is going away; 'close' follows.
    }
  }

  /** The broker may have lost events: catch up every chat from the database. */
  resync(round: ResyncRound): Promise<void> {
    return this.#enqueue(() => this.#resync(round));
  }

  close(code: number, reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#clearTimers();
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#chats.clear();
    try {
      this.#ws.close(code, reason);
    } catch {
      this.#ws.terminate();
      return;
    }
    this.#terminateTimer = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
    this.#terminateTimer.unref();
  }

  /** The token expired (called by the node's ExpiryQueue). */
  expire(): void {
    if (this.#state !== 'open') return;
    this.#ctx.stats.tokensExpired++;
    this.close(CloseCode.tokenExpired, 'token expired');
  }

  /** Forcibly drops the socket (shutdown after the grace period). */
  terminate(): void {
    this.#ws.terminate();
  }

  // ---- client frames -------------------------------------------------------------------

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#state !== 'open') return;
    this.#ctx.stats.clientFrames++;
    if (isBinary) {
      this.#sendError({ code: 'binary_not_supported', message: 'Frames must be JSON text' });
      return;
    }
    // binaryType is the default 'nodebuffer': one Buffer, or fragments as an array.
    const text = (Array.isArray(data) ? Buffer.concat(data) : (data as Buffer)).toString('utf8');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.#sendError(parsed.error);
      return;
    }
    const { frame } = parsed;
    if (frame.type === 'ping') {
      this.#send(PONG);
      return;
    }
    this.#onResume(frame.positions);
  }

  #sendError(error: FrameError): void {
    this.#ctx.stats.errorFrames++;
    this.#send(errorFrame(error));
  }

  #onResume(positions: Map<string, number>): void {
    if (this.#queuedResumes >= MAX_QUEUED_RESUMES) {
      this.#sendError({
        code: 'too_many_resumes',
        message: 'Wait for "resumed" before sending more resume frames',
      });
      return;
    }
    this.#queuedResumes++;
    this.#ctx.stats.resumes++;
    // Hold the listed chats now, synchronously, so that every live event from here on is
    // merged with the replay instead of overtaking it.
    const targets: Array<{ state: ChatState; from: number }> = [];
    for (const [chatId, from] of positions) {
      if (!isUuid(chatId)) continue;
      let state = this.#chats.get(chatId);
      if (!state) {
        state = this.#newState(chatId, from);
        state.tentative = true;
      }
      state.holds++;
      targets.push({ state, from });
    }
    this.#release();
    this.#enqueue(async () => {
      for (const { state, from } of targets) {
        try {
          await this.#catchUp(state, from);
        } finally {
          this.#releaseHold(state);
        }
      }
      this.#queuedResumes--;
      this.#send(RESUMED);
    });
  }

  // ---- live events ---------------------------------------------------------------------

  #route(event: LiveEvent): void {
    const { chatId } = event;
    switch (event.type) {
      case 'chat.created': {
        const known = this.#chats.get(chatId);
        if (!known) this.#newState(chatId, event.lastSeq ?? 0);
        else known.tentative = false;
        this.#send(event.bytes);
        return;
      }
      case 'chat.removed':
        this.#chats.delete(chatId);
        this.#send(event.bytes);
        return;
      default:
        break;
    }
    let state = this.#chats.get(chatId);
    if (event.seq === null) {
      if (event.type === 'chat.deleted' && state) state.deleted = true;
      if (state && state.holds > 0) defer(state, event);
      else this.#send(event.bytes);
      return;
    }
    const seq = event.seq;
    if (!state) {
      // Addressed to us, so we participate; the chat.created that would have told us is late.
      state = this.#newState(chatId, seq - 1);
    }
    if (state.holds > 0) {
      this.#hold(state, event);
      return;
    }
    if (seq <= state.last) {
      this.#ctx.stats.duplicatesDropped++;
      return;
    }
    if (seq === state.last + 1) {
      if (this.#send(event.bytes)) state.last = seq;
      return;
    }
    // Positions are missing: they are committed (a change commits only after every earlier
    // one of its chat), so the database has them.
    this.#ctx.stats.gapFills++;
    state.holds++;
    this.#hold(state, event);
    const held = state;
    this.#enqueue(async () => {
      try {
        await this.#catchUp(held, undefined);
      } finally {
        this.#releaseHold(held);
      }
    });
  }

  #hold(state: ChatState, event: LiveEvent): void {
    if (state.overflowed) return;
    if (!state.buffer) state.buffer = [];
    const buffer = state.buffer;
    buffer.push(event);
    state.bufferedBytes += event.bytes.length;
    if (
      buffer.length > MAX_BUFFERED_PER_CHAT ||
      state.bufferedBytes > this.#ctx.settings.sendQueueBytes / 2
    ) {
      state.buffer = undefined;
      state.bufferedBytes = 0;
      state.overflowed = true;
    }
  }

  // ---- catching up from the database ---------------------------------------------------

  /**
   * Brings a held chat up to date: reads the database after `from` (resume) or after the
   * last delivered position (gap), then merges the held live events, reading again while
   * positions are still missing. Ends with the buffer empty, so the caller can go live.
   */
  async #catchUp(state: ChatState, from: number | undefined): Promise<void> {
    let after = from ?? state.last;
    let resuming = from !== undefined;
    for (;;) {
      for (;;) {
        const page = await this.#ctx.feed.changes(state.chatId, this.userId, after, PAGE);
        if (this.#state !== 'open' || this.#chats.get(state.chatId) !== state) return;
        if (!page.member) {
          // Not (or no longer) a participant: nothing may be delivered; chat.removed, if
          // any, is on its way.
          this.#chats.delete(state.chatId);
          return;
        }
        state.tentative = false;
        for (const event of page.changes) {
          const seq = event.seq!;
          // (floor, last] went out already; a resume from below floor replays the rest.
          if (seq > state.floor && seq <= state.last) continue;
          if (!(await this.#room())) return;
          this.#ctx.stats.replayedFrames++;
          this.#sendReplay(event.bytes);
          if (seq > state.last) state.last = seq;
        }
        if (page.changes.length < PAGE) {
          state.last = Math.max(state.last, page.chatLastSeq);
          break;
        }
        after = page.changes.at(-1)!.seq!;
      }
      if (resuming) {
        state.floor = Math.min(state.floor, from!);
        resuming = false;
      }
      if (this.#drain(state)) return;
      after = state.last;
    }
  }

  /** Sends held events that continue the stream; true when none is left. */
  #drain(state: ChatState): boolean {
    if (state.overflowed) {
      state.overflowed = false;
      state.buffer = undefined;
      state.bufferedBytes = 0;
      return false;
    }
    const buffer = state.buffer;
    if (buffer === undefined) return true;
    buffer.sort((a, b) => a.seq! - b.seq!);
    let index = 0;
    for (; index < buffer.length; index++) {
      const event = buffer[index]!;
      const seq = event.seq!;
      if (seq <= state.last) {
        this.#ctx.stats.duplicatesDropped++;
        continue;
      }
      if (seq !== state.last + 1) break;
      if (!this.#send(event.bytes)) return true;
      state.last = seq;
    }
    const rest = buffer.slice(index);
    state.buffer = rest.length > 0 ? rest : undefined;
    state.bufferedBytes = rest.reduce((sum, event) => sum + event.bytes.length, 0);
    return rest.length === 0;
  }

  #releaseHold(state: ChatState): void {
    state.holds--;
    if (state.holds > 0 || this.#chats.get(state.chatId) !== state) return;
    if (state.tentative) {
      this.#chats.delete(state.chatId);
      return;
    }
    const deferred = state.deferred;
    state.deferred = undefined;
    if (deferred) for (const event of deferred) this.#send(event.bytes);
  }

  async #resync(round: ResyncRound): Promise<void> {
    this.#ctx.stats.resyncs++;
    const snapshotGeneration = generation;
    const memberships = await this.#ctx.feed.memberships(this.userId);
    if (this.#state !== 'open') return;
    for (const [chatId, state] of this.#chats) {
      if (memberships.has(chatId) || state.tentative || state.born > snapshotGeneration) continue;
      // Removed while the broker lost events.
      this.#chats.delete(chatId);
      this.#send(localEvent('chat.removed', chatId, null, { chat_id: chatId }).bytes);
    }
    for (const [chatId, membership] of memberships) {
      let state = this.#chats.get(chatId);
      if (!state) {
        // Joined while the broker lost events.
        const view = await this.#ctx.feed.chat(this.userId, chatId);
        if (this.#state !== 'open') return;
        if (!view || this.#chats.has(chatId)) continue;
        state = this.#newState(chatId, view.last_seq);
        state.deleted = view.deleted;
        this.#send(localEvent('chat.created', chatId, null, view).bytes);
        continue;
      }
      if (membership.deleted && !state.deleted) {
        const view = await this.#ctx.feed.chat(this.userId, chatId);
        if (this.#state !== 'open') return;
        if (view && this.#chats.get(chatId) === state) {
          state.deleted = true;
          this.#send(localEvent('chat.deleted', chatId, null, view).bytes);
        }
      }
      if (this.#chats.get(chatId) !== state) continue;
      state.holds++;
      try {
        if (membership.lastSeq > state.last) await this.#catchUp(state, undefined);
        if (this.#state !== 'open') return;
        if (this.#chats.get(chatId) === state) {
          // Status moves are not positions, so nothing shows whether one was lost.
          for (const event of await round.statusOf(chatId)) defer(state, event);
        }
      } finally {
        this.#releaseHold(state);
      }
    }
  }

  // ---- plumbing ------------------------------------------------------------------------

  #newState(chatId: string, position: number): ChatState {
    const state: ChatState = {
      chatId,
      floor: position,
      last: position,
      holds: 0,
      buffer: undefined,
      bufferedBytes: 0,
      deferred: undefined,
      overflowed: false,
      deleted: false,
      tentative: false,
      born: ++generation,
    };
    this.#chats.set(chatId, state);
    return state;
  }

  #release(): void {
    if (this.#ready) return;
    this.#ready = true;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#flushPending();
  }

  #flushPending(): void {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const event of pending) {
      if (this.#state !== 'open') return;
      this.#route(event);
    }
  }

  /** Runs `job` after the jobs before it; resolves when it is done (never rejects). */
  #enqueue(job: () => Promise<void>): Promise<void> {
    this.#jobs = this.#jobs
      .then(() => (this.#state === 'open' ? job() : undefined))
      .catch((error: unknown) => {
        if (this.#state !== 'open') return;
        this.#ctx.stats.internalErrors++;
        this.#ctx.log.error(
          { err: error, reqId: this.#reqId, userId: this.userId },
          'websocket catch-up failed',
        );
        this.close(CloseCode.internalError, 'internal error; reconnect and resume');
      });
    return this.#jobs;
  }

  /**
   * Writes a live or control frame. The send queue is bounded: a client so far behind that
   * the frame would not fit is closed (it reconnects and resumes from the database).
   */
  #send(data: Buffer | string): boolean {
    if (this.#state !== 'open') return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (!this.#fits(size)) {
      this.#closeSlow();
      return false;
    }
    this.#write(data);
    return true;
  }

  /** Whether `size` more bytes keep the send queue within its bound. */
  #fits(size: number): boolean {
    const bound = this.#ctx.settings.sendQueueBytes;
    if (this.#ws.bufferedAmount + size <= bound) return true;
    // Frames held for one write this turn (batch.ts) are not behind: let them go, look again.
    return (
      this.#tcp !== undefined &&
      this.#ctx.batch.release(this.#tcp) &&
      this.#ws.bufferedAmount + size <= bound
    );
  }

  /** Replay frames are paced by #room instead of counting against the bound. */
  #sendReplay(data: Buffer): void {
    if (this.#state === 'open') this.#write(data);
  }

  #write(data: Buffer | string): void {
    const ws = this.#ws;
    if (typeof data === 'string') {
      ws.send(data);
    } else if (this.#tcp !== undefined && ws.readyState === ws.OPEN) {
      // Ordered with ws's own writes (pings, close): without compression its sender writes
      // synchronously, so both land on the socket in call order. Not OPEN (a close frame
      // went out): nothing may follow it, as ws.send would also refuse.
      this.#ctx.batch.write(this.#tcp, data);
    } else {
      ws.send(framePayload(data), { binary: false });
    }
    const stats = this.#ctx.stats;
    stats.framesSent++;
    // Events are shared encoded buffers; control frames (pong, resumed, error) are strings.
    if (typeof data !== 'string') stats.eventsSent++;
    const buffered = this.#ws.bufferedAmount;
    if (buffered > stats.peakBufferedBytes) stats.peakBufferedBytes = buffered;
  }

  /** Waits until the send queue is at most half full; false when the connection closed. */
  async #room(): Promise<boolean> {
    const limit = this.#ctx.settings.sendQueueBytes / 2;
    while (this.#state === 'open' && this.#ws.bufferedAmount > limit) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.#state === 'open';
  }

  #closeSlow(): void {
    if (this.#state !== 'open') return;
    this.#ctx.stats.slowConsumersClosed++;
    this.#ctx.log.info(
      { reqId: this.#reqId, userId: this.userId },
      'websocket send queue over its bound; closing',
    );
    this.close(CloseCode.slowConsumer, 'slow consumer; reconnect and resume');
  }

  #clearTimers(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#ctx.expiry.delete(this, this.#expiresAt);
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimers();
    clearTimeout(this.#terminateTimer);
    this.#pending = [];
    this.#chats.clear();
    this.#ctx.onClosed(this);
  }
}
