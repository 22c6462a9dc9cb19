// WebSocket connection to /subscriptions (contract section 7): reconnects with backoff,
// sends `resume` with the caller's positions after every (re)connect, keeps the link alive
// with `ping`, and hands every server event to the caller. It holds no chat state itself.

import type { Chat, Message, MessageStatus } from './api';

export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'offline';

export type MessageEvent = {
  type: 'message.created' | 'message.updated' | 'message.deleted';
  chat_id: string;
  seq: number;
  data: Message;
};
export type StatusEvent = {
  type: 'message.status';
  chat_id: string;
  seq: null;
  data: { message_id: string; status: MessageStatus };
};
export type ChatEvent = {
  type: 'chat.created' | 'chat.updated' | 'chat.deleted';
  chat_id: string;
  seq: null;
  data: Chat;
};
export type ChatRemovedEvent = {
  type: 'chat.removed';
  chat_id: string;
  seq: null;
  data: { chat_id: string };
};
export type ServerEvent = MessageEvent | StatusEvent | ChatEvent | ChatRemovedEvent;

const EVENT_TYPES = new Set<string>([
  'message.created',
  'message.updated',
  'message.deleted',
  'message.status',
  'chat.created',
  'chat.updated',
  'chat.deleted',
  'chat.removed',
]);

export interface RealtimeOptions {
  /** The access token to connect with; null stops connecting. */
  token(): string | null;
  /** Positions to resume from, per chat: the newest change the caller holds. */
  positions(): Record<string, number>;
  onEvent(event: ServerEvent): void;
  /** The socket opened and `resume` was sent: time to refresh the chat list. */
  onOpen(): void;
  onState(state: ConnectionState): void;
  /** A connection attempt failed before opening (the token may have expired). */
  onConnectFailed?(): void;
}

const PING_EVERY_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 4_000;
const STABLE_AFTER_MS = 5_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export function subscriptionsUrl(token: string, loc: Location = window.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/subscriptions?token=${encodeURIComponent(token)}`;
}

export class RealtimeConnection {
  private socket: WebSocket | null = null;
  private running = false;
  private attempt = 0;
  private openedAt = 0;
  private reconnectTimer: number | undefined;
  private pingTimer: number | undefined;
  private pongTimer: number | undefined;
  private state: ConnectionState = 'connecting';

  constructor(private readonly options: RealtimeOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener('online', this.handleOnline);
    window.addEventListener('offline', this.handleOffline);
    document.addEventListener('visibilitychange', this.handleVisibility);
    this.setState('connecting');
    this.connect();
  }

  stop(): void {
    this.running = false;
    window.removeEventListener('online', this.handleOnline);
    window.removeEventListener('offline', this.handleOffline);
    document.removeEventListener('visibilitychange', this.handleVisibility);
    window.clearTimeout(this.reconnectTimer);
    this.dropSocket();
  }

  /** Sends a client frame if the socket is open; false otherwise. */
  send(frame: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Skips the remaining backoff and tries at once (user action, network back). */
  reconnectNow(): void {
    if (!this.running || this.socket) return;
    window.clearTimeout(this.reconnectTimer);
    this.connect();
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onState(state);
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    const token = this.options.token();
    if (!this.running || !token) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(subscriptionsUrl(token));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.openedAt = Date.now();
      this.setState('online');
      const positions = this.options.positions();
      if (Object.keys(positions).length > 0) this.send({ type: 'resume', positions });
      this.options.onOpen();
      this.schedulePing();
    };
    socket.onmessage = (event: { data: unknown }) => {
      this.schedulePing();
      if (typeof event.data !== 'string') return;
      this.handleFrame(event.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearHeartbeat();
      if (!opened) this.options.onConnectFailed?.();
      if (opened && Date.now() - this.openedAt >= STABLE_AFTER_MS) this.attempt = 0;
      this.scheduleReconnect();
    };
    // An error is always followed by close, which handles it.
    socket.onerror = () => undefined;
  }

  private handleFrame(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    const type = (frame as { type?: unknown }).type;
    // `pong` and `resumed` only prove the link alive (see schedulePing).
    if (typeof type === 'string' && EVENT_TYPES.has(type)) {
      this.options.onEvent(frame as ServerEvent);
    }
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    // navigator.onLine only labels the state: a server on localhost may answer without a network.
    this.setState(navigator.onLine ? 'reconnecting' : 'offline');
    // Offline, the `online` event reconnects at once; meanwhile try only now and then.
    const ceiling = navigator.onLine
      ? Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt)
      : BACKOFF_MAX_MS;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  /** Any frame proves the link alive; after a quiet spell, ping and expect an answer. */
  private schedulePing(): void {
    this.clearHeartbeat();
    this.pingTimer = window.setTimeout(() => {
      if (!this.send({ type: 'ping' })) return;
      this.pongTimer = window.setTimeout(() => this.handleDeadLink(), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  private clearHeartbeat(): void {
    window.clearTimeout(this.pingTimer);
    window.clearTimeout(this.pongTimer);
  }

  /** No answer to a ping: a half-open link. Drop it without waiting for a close handshake. */
  private handleDeadLink(): void {
    this.dropSocket();
    this.scheduleReconnect();
  }

  private dropSocket(): void {
    this.clearHeartbeat();
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    if (socket.readyState === WebSocket.OPEN) socket.close();
    // Closing a socket that is still connecting makes browsers log a warning: close it on open.
    else if (socket.readyState === WebSocket.CONNECTING) socket.onopen = () => socket.close();
  }

  private readonly handleOnline = (): void => {
    this.attempt = 0;
    if (this.socket) this.probe();
    else {
      this.setState('reconnecting');
      this.reconnectNow();
    }
  };

  private readonly handleOffline = (): void => {
    if (this.socket) this.probe();
    else this.setState('offline');
  };

  /** The network changed under an open socket: ask for a pong now instead of at the next ping. */
  private probe(): void {
    this.clearHeartbeat();
    if (this.send({ type: 'ping' })) {
      this.pongTimer = window.setTimeout(() => this.handleDeadLink(), PROBE_TIMEOUT_MS);
    }
  }

  private readonly handleVisibility = (): void => {
    if (document.visibilityState === 'visible' && !this.socket) this.reconnectNow();
  };
}
